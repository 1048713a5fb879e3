import LocalTestServers
import NIOCore
import NIOPosix
import RedisClient
import Testing

@Suite("RedisConnection against redis-server", .enabled(if: RedisTestServer.shouldRun))
struct RedisConnectionIntegrationTests {
    @Test func basicCommands() async throws {
        try await withRedisServer { server in
            let connection = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
            #expect(try await connection.send(["PING"]) == .simpleString("PONG"))
            #expect(try await connection.send(["SET", "greeting", "hello"]) == .simpleString("OK"))
            #expect(try await connection.send(["GET", "greeting"]).string == "hello")
            #expect(try await connection.send(["GET", "missing"]) == .null)
            #expect(try await connection.send(["INCR", "counter"]) == .integer(1))
            #expect(try await connection.send(["INCRBY", "counter", 41]) == .integer(42))
            #expect(try await connection.send(["LRANGE", "nolist", 0, -1]) == .array([]))
            await connection.close()
            #expect(!connection.isOpen)
            let afterClose = await #expect(throws: RedisError.self) { try await connection.send(["PING"]) }
            #expect(afterClose == .connectionClosed)
        }
    }

    @Test func binarySafeValuesAndKeys() async throws {
        try await withRedisServer { server in
            let connection = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
            let value = (0...255).map { UInt8($0) } + Array("\r\n$3\r\n*1\r\n".utf8) + [0, 0]
            let key: [UInt8] = [0, 1, 13, 10, 255]
            _ = try await connection.send(["SET", RedisArgument(key), RedisArgument(value)])
            #expect(try await connection.send(["GET", RedisArgument(key)]) == .bulkString(value))
            #expect(try await connection.send(["STRLEN", RedisArgument(key)]) == .integer(Int64(value.count)))
            let big = [UInt8](repeating: 0xAB, count: 1 << 20)
            _ = try await connection.send(["SET", "big", RedisArgument(big)])
            #expect(try await connection.send(["GET", "big"]).bytes == big)
            await connection.close()
        }
    }

    @Test func thousandConcurrentCommandsArriveInOrder() async throws {
        try await withRedisServer { server in
            let connection = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
            try await withThrowingTaskGroup(of: (Int, RESPValue, RESPValue).self) { group in
                for index in 0..<1_000 {
                    group.addTask {
                        let echo = try await connection.send(["ECHO", "value-\(index)"])
                        let incr = try await connection.send(["INCRBY", "key-\(index % 10)", RedisArgument(index)])
                        return (index, echo, incr)
                    }
                }
                var seen = 0
                for try await (index, echo, incr) in group {
                    #expect(echo.string == "value-\(index)")
                    #expect(incr.int != nil)
                    seen += 1
                }
                #expect(seen == 1_000)
            }
            // Every INCRBY landed once: sum over keys equals 0 + 1 + ... + 999.
            var total: Int64 = 0
            for key in 0..<10 { total += try await connection.send(["GET", "key-\(key)"]).int ?? 0 }
            #expect(total == 999 * 1_000 / 2)
            await connection.close()
        }
    }

    @Test func pipelineReturnsRepliesInOrderWithErrorsAsValues() async throws {
        try await withRedisServer { server in
            let connection = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
            let replies = try await connection.pipeline([["SET", "s", "text"], ["INCR", "s"], ["GET", "s"], ["NOSUCHCOMMAND"]])
            #expect(replies.count == 4)
            #expect(replies[0] == .simpleString("OK"))
            #expect(replies[1].errorMessage?.hasPrefix("ERR") == true)
            #expect(replies[2].string == "text")
            #expect(replies[3].errorMessage?.hasPrefix("ERR unknown command") == true)
            await connection.close()
        }
    }

    @Test func errorRepliesSurfaceAsServerErrors() async throws {
        try await withRedisServer { server in
            let connection = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
            _ = try await connection.send(["SET", "s", "text"])
            let wrongType = await #expect(throws: RedisError.self) { try await connection.send(["LPUSH", "s", "x"]) }
            #expect(wrongType?.serverErrorCode == "WRONGTYPE")
            let notInteger = await #expect(throws: RedisError.self) { try await connection.send(["INCR", "s"]) }
            #expect(notInteger == .server("ERR value is not an integer or out of range"))
            // An error reply does not disturb the connection.
            #expect(try await connection.send(["GET", "s"]).string == "text")
            #expect(connection.isOpen)
            await connection.close()
        }
    }

    /// Prints figures; asserts nothing about time.
    @Test func benchmarkPipelinedVersusSequentialGets() async throws {
        try await withRedisServer { server in
            let connection = try await RedisConnection.connect(host: "127.0.0.1", port: server.port, commandTimeout: .seconds(30))
            _ = try await connection.send(["SET", "bench", "value"])
            let count = 20_000
            let clock = ContinuousClock()

            let sequential = try await clock.measure {
                for _ in 0..<count { _ = try await connection.send(["GET", "bench"]) }
            }
            let concurrent = try await clock.measure {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<count {
                        group.addTask { _ = try await connection.send(["GET", "bench"]) }
                    }
                    try await group.waitForAll()
                }
            }
            let batched = try await clock.measure {
                let replies = try await connection.pipeline(Array(repeating: ["GET", "bench"], count: count))
                #expect(replies.count == count)
            }
            func rate(_ duration: Duration) -> String {
                let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
                return "\(Int(Double(count) / max(seconds, 1e-9))) ops/s (\(duration))"
            }
            print("redis benchmark, \(count) GETs on one connection (debug build): sequential \(rate(sequential)); concurrent pipelined \(rate(concurrent)); one pipeline() batch \(rate(batched))")
            await connection.close()
        }
    }
}

/// A server that answers anything with bytes that are not RESP.
private final class GarbageReplier: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: "!garbage\r\n")), promise: nil)
    }
}

@Suite("RedisConnection against a broken server")
struct RedisConnectionProtocolErrorTests {
    @Test func protocolErrorFailsCommandAndClosesConnection() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(GarbageReplier()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        let connection = try await RedisConnection.connect(host: "127.0.0.1", port: port)
        let error = await #expect(throws: RedisError.self) { try await connection.send(["PING"]) }
        guard case .protocolError = error else {
            Issue.record("expected a protocol error, got \(String(describing: error))")
            return
        }
        #expect(await eventually(timeout: .seconds(20)) { !connection.isOpen })
        try await server.close()
    }

    @Test func connectToClosedPortIsUnavailable() async throws {
        let port = try FreePort.find()
        let error = await #expect(throws: RedisError.self) {
            try await RedisConnection.connect(host: "127.0.0.1", port: port, connectTimeout: .seconds(1))
        }
        guard case .unavailable = error else {
            Issue.record("expected unavailable, got \(String(describing: error))")
            return
        }
    }
}
