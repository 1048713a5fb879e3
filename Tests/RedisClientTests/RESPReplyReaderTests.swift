import NIOCore
import Testing
@testable import RedisClient

@Suite("RESP reply parsing")
struct RESPReplyReaderTests {
    private func parse(_ text: String) throws -> [RESPValue] {
        let reader = RESPReplyReader()
        try reader.feed(Array(text.utf8))
        var replies: [RESPValue] = []
        while let reply = try reader.next() { replies.append(reply) }
        return replies
    }

    @Test func scalarTypes() throws {
        let replies = try parse("+OK\r\n-ERR wrong\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n")
        #expect(replies == [
            .simpleString("OK"), .error("ERR wrong"), .integer(42), .integer(-7),
            .bulkString(Array("hello".utf8)), .bulkString([]), .bulkString(nil), .array(nil), .array([]),
        ])
        #expect(replies[6].isNull && replies[7].isNull)
        #expect(replies[6] != replies[7], "a null bulk string and a null array stay distinct")
    }

    @Test func nestedArraysWithNulls() throws {
        let text = "*4\r\n:1\r\n*3\r\n$1\r\na\r\n$-1\r\n*2\r\n+x\r\n*-1\r\n$-1\r\n*1\r\n-ERR inner\r\n"
        let replies = try parse(text)
        #expect(replies == [
            .array([
                .integer(1),
                .array([.bulkString([UInt8(ascii: "a")]), .bulkString(nil), .array([.simpleString("x"), .array(nil)])]),
                .bulkString(nil),
                .array([.error("ERR inner")]),
            ]),
        ])
    }

    @Test func binaryBulkStringAndIncrementalFeeding() throws {
        let payload: [UInt8] = [0, 13, 10, 255, 36, 42, 0]
        let wire = Array("$7\r\n".utf8) + payload + Array("\r\n:5\r\n".utf8)
        let reader = RESPReplyReader()
        var replies: [RESPValue] = []
        for byte in wire {
            try reader.feed([byte])
            while let reply = try reader.next() { replies.append(reply) }
        }
        #expect(replies == [.bulkString(payload), .integer(5)])
    }

    @Test func protocolErrorThrows() throws {
        let reader = RESPReplyReader()
        try reader.feed(Array("?what\r\n".utf8))
        #expect(throws: RedisError.self) { _ = try reader.next() }
    }

    @Test func accessors() {
        #expect(RESPValue.bulkString(Array("12".utf8)).int == 12)
        #expect(RESPValue.integer(3).string == "3")
        #expect(RESPValue.simpleString("OK").string == "OK")
        #expect(RESPValue.array([.integer(1)]).array == [.integer(1)])
        #expect(RESPValue.array(nil).array == nil)
        #expect(RESPValue.error("NOSCRIPT x").errorMessage == "NOSCRIPT x")
        #expect(RedisError.server("NOSCRIPT No matching script").serverErrorCode == "NOSCRIPT")
        #expect(RESPValue.bulkString(Array("secret".utf8)).description == "bulkString(6 bytes)")
    }
}

@Suite("RESP command encoding")
struct RESPCommandEncoderTests {
    @Test func encodesArrayOfBulkStrings() {
        let buffer = RESPCommandEncoder.encode(["SET", "key", RedisArgument([0, 13, 10]), 1234567890])
        let expected = Array("*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\n".utf8) + [0, 13, 10] + Array("\r\n$10\r\n1234567890\r\n".utf8)
        #expect(Array(buffer.readableBytesView) == expected)
    }

    @Test func encodesEmptyAndUnicodeArguments() {
        let buffer = RESPCommandEncoder.encode(["ECHO", "", "é"])
        #expect(String(buffer: buffer) == "*3\r\n$4\r\nECHO\r\n$0\r\n\r\n$2\r\né\r\n")
    }
}

@Suite("Pending command queue")
struct PendingCommandQueueTests {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func fifoAndSingleTimer() {
        var queue = PendingCommandQueue<Int>()
        #expect(queue.append(1, deadline: start + .milliseconds(100)) == start + .milliseconds(100))
        #expect(queue.append(2, deadline: start + .milliseconds(200)) == nil, "a later deadline needs no new timer")
        #expect(queue.append(3, deadline: start + .milliseconds(50)) == start + .milliseconds(50), "an earlier one re-arms")
        #expect(queue.popFirst() == 1)
        #expect(queue.count == 2)
    }

    @Test func timerRearmsUntilSomethingExpires() {
        var queue = PendingCommandQueue<Int>()
        _ = queue.append(1, deadline: start + .milliseconds(100))
        _ = queue.append(2, deadline: start + .milliseconds(300))
        #expect(queue.popFirst() == 1)
        guard case .rearm(let next) = queue.timerFired(now: start + .milliseconds(100)) else {
            Issue.record("expected rearm")
            return
        }
        #expect(next == start + .milliseconds(300))
        _ = queue.append(3, deadline: start + .milliseconds(900))
        guard case .expired(let timedOut, let abandoned) = queue.timerFired(now: start + .milliseconds(301)) else {
            Issue.record("expected expiry")
            return
        }
        #expect(timedOut == [2])
        #expect(abandoned == [3])
        #expect(queue.isEmpty)
        guard case .idle = queue.timerFired(now: start + .seconds(5)) else {
            Issue.record("expected idle")
            return
        }
    }

    @Test func removeAllClearsTimer() {
        var queue = PendingCommandQueue<Int>()
        _ = queue.append(1, deadline: start + .milliseconds(100))
        #expect(queue.removeAll() == [1])
        #expect(queue.armedDeadline == nil)
        #expect(queue.append(2, deadline: start + .seconds(1)) == start + .seconds(1))
    }

    @Test func recognisesPushFrames() {
        let message = RESPValue.array([.bulkString(Array("message".utf8)), .bulkString(Array("ch".utf8)), .bulkString([1])])
        let subscribe = RESPValue.array([.bulkString(Array("subscribe".utf8)), .bulkString(Array("ch".utf8)), .integer(1)])
        let pong = RESPValue.array([.bulkString(Array("pong".utf8)), .bulkString([])])
        #expect(RedisCommandHandler.isPush(message))
        #expect(RedisCommandHandler.isPush(subscribe))
        #expect(!RedisCommandHandler.isPush(pong))
        #expect(!RedisCommandHandler.isPush(.simpleString("OK")))
    }
}

@Suite("Small value types")
struct RedisValueTypeTests {
    @Test func sha1MatchesKnownVectors() {
        #expect(RedisScript("").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisScript("abc").sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(RedisScript("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").sha1
            == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(SHA1.hexDigest(Array(repeating: UInt8(ascii: "a"), count: 1_000)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    @Test func backoffGrowsAndCaps() {
        let backoff = ReconnectBackoff(initial: .milliseconds(50), maximum: .seconds(2))
        #expect(backoff.delay(attempt: 0, jitter: 1) == .milliseconds(50))
        #expect(backoff.delay(attempt: 0, jitter: 0) == .milliseconds(25))
        #expect(backoff.delay(attempt: 2, jitter: 1) == .milliseconds(200))
        #expect(backoff.delay(attempt: 10, jitter: 1) == .seconds(2))
        #expect(backoff.delay(attempt: 1000, jitter: 0.5) == .milliseconds(1500))
    }

    @Test func configurationFromURL() throws {
        let full = try RedisConfiguration(url: "redis://user:p%40ss@redis.internal:6380/2")
        #expect(full.host == "redis.internal")
        #expect(full.port == 6380)
        #expect(full.username == "user")
        #expect(full.password == "p@ss")
        #expect(full.database == 2)
        #expect(!full.description.contains("p@ss"))

        let passwordOnly = try RedisConfiguration(url: "redis://:secret@localhost")
        #expect(passwordOnly.username == nil)
        #expect(passwordOnly.password == "secret")
        #expect(passwordOnly.port == 6379)
        #expect(passwordOnly.database == 0)

        let plain = try RedisConfiguration(url: "redis://10.0.0.5:7000")
        #expect(plain.host == "10.0.0.5" && plain.port == 7000 && plain.password == nil)

        #expect(plain.tls == nil)
        let secure = try RedisConfiguration(url: "rediss://app:s3cret@cache.example.com:6380/1")
        #expect(secure.tls == RedisTLS() && secure.username == "app" && secure.password == "s3cret" && secure.port == 6380)
        #expect(secure.description == "rediss://***@cache.example.com:6380/1")
        #expect(throws: RedisConfiguration.InvalidURL.self) { try RedisConfiguration(url: "redis://h:notaport") }
        #expect(throws: RedisConfiguration.InvalidURL.self) { try RedisConfiguration(url: "http://h") }
    }
}
