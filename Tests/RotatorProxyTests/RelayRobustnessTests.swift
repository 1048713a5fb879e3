import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import RotatorProxy
import Testing

/// Flow control and deadlines of the relay on `EmbeddedChannel`, with the loop's virtual clock: back-pressure whatever
/// order flushes and writability changes come in, the whole-request deadline, the bound on pipelined requests, an
/// answer that breaks after its head, and the overall deadline of a request's attempts.
@Suite struct RelayRobustnessTests {
    typealias Harness = ProxyFrontHandlerTests.Harness

    /// Stands for a socket channel: a write past the high watermark makes the channel unwritable and says so, and the
    /// flush drains the socket at once and says it is writable again, inside the flush, as NIO's `flushNow` does.
    final class SocketThatDrainsInsideTheFlush: ChannelOutboundHandler {
        typealias OutboundIn = NIOAny
        var isFilling = false

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            context.write(data, promise: promise)
            guard isFilling, let channel = context.channel as? EmbeddedChannel, channel.isWritable else { return }
            channel.isWritable = false
            context.fireChannelWritabilityChanged()
        }

        func flush(context: ChannelHandlerContext) {
            context.flush()
            guard let channel = context.channel as? EmbeddedChannel, !channel.isWritable else { return }
            channel.isWritable = true
            context.fireChannelWritabilityChanged()
        }
    }

    static let trickleTimeouts = ClientTimeouts(idle: .seconds(60), read: .seconds(5), request: .seconds(12))

    static func status(_ parts: [HTTPServerResponsePart]) -> HTTPResponseStatus? {
        guard case .head(let head) = parts.first else { return nil }
        return head.status
    }

    static func bodyObject(_ parts: [HTTPServerResponsePart]) throws -> [String: Any] {
        var body = ByteBuffer()
        for case .body(.byteBuffer(var chunk)) in parts { body.writeBuffer(&chunk) }
        return try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any], "\(String(buffer: body))")
    }

    // MARK: Back-pressure

    @Test func writabilityRegainedInsideTheFlushStillLetsTheUpstreamBeRead() async throws {
        let socket = SocketThatDrainsInsideTheFlush()
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(), socketSide: [socket])
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Type", "text/event-stream")], body: ["data: 1\n\n"], end: false)
        #expect(try harness.clientParts().count == 2)
        socket.isFilling = true
        for event in 2...4 {
            try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "data: \(event)\n\n")))
            let readsBefore = harness.upstreams.reads
            harness.upstreams.last.read()
            #expect(harness.upstreams.reads == readsBefore + 1, "the client drained inside the flush: the upstream is read on (event \(event))")
        }
        #expect(try harness.clientParts().count == 3, "every event reached the client")
        try harness.answer(headers: [], body: [], end: true)
    }

    @Test func upstreamReadsWaitWhileTheClientStaysUnwritableAndResumeOnce() async throws {
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService())
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Type", "text/event-stream")], body: ["data: 1\n\n"], end: false)
        // The channel turns unwritable with the write (no flush drains it): reads pause until it is writable again.
        harness.client.isWritable = false
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "data: 2\n\n")))
        let readsBefore = harness.upstreams.reads
        harness.upstreams.last.read()
        #expect(harness.upstreams.reads == readsBefore)
        harness.client.isWritable = true
        harness.client.pipeline.fireChannelWritabilityChanged()
        harness.client.pipeline.fireChannelWritabilityChanged()
        #expect(harness.upstreams.reads == readsBefore + 1, "one held read, issued once however many times writability is told")
    }

    // MARK: The whole-request deadline

    @Test func aProxiedBodyTrickledUnderTheReadTimeoutGets408AtTheRequestDeadline() async throws {
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(), timeouts: Self.trickleTimeouts)
        try harness.request(headers: [("Authorization", "Bearer \(ProxyFrontHandlerTests.proxyKey)"), ("Content-Length", "100")], body: nil, end: false)
        var seconds = 0
        while harness.client.isActive, seconds < 40 {
            harness.loop.advanceTime(by: .seconds(4))
            seconds += 4
            if harness.client.isActive { try harness.client.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "x"))) }
        }
        #expect(seconds == 12, "cut at CLIENT_REQUEST_TIMEOUT although no pause reached the read timeout")
        let parts = try harness.clientParts()
        #expect(Self.status(parts) == .requestTimeout)
        let error = try #require(try Self.bodyObject(parts)["error"] as? [String: Any], "in the client's (OpenAI) format")
        #expect(error["code"] as? String == "request_timeout")
        #expect((error["message"] as? String)?.contains("CLIENT_REQUEST_TIMEOUT") == true)
        #expect(harness.upstreams.channels.isEmpty)
    }

    @Test func anAdminBodyTrickledUnderTheReadTimeoutGets408AtTheRequestDeadline() async throws {
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(), timeouts: Self.trickleTimeouts)
        try harness.client.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(
            version: .http1_1, method: .POST, uri: "/admin/login", headers: HTTPHeaders([("Content-Length", "100"), ("Content-Type", "application/json")])
        )))
        var seconds = 0
        while harness.client.isActive, seconds < 40 {
            harness.loop.advanceTime(by: .seconds(4))
            seconds += 4
            if harness.client.isActive { try harness.client.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "{"))) }
        }
        #expect(seconds == 12)
        let parts = try harness.clientParts()
        #expect(Self.status(parts) == .requestTimeout)
        #expect((try Self.bodyObject(parts)["error"] as? String)?.contains("CLIENT_REQUEST_TIMEOUT") == true, "the admin API's error shape")
        #expect(harness.passed.parts.count >= 2, "Hummingbird had the head and what came of the body")
    }

    @Test func aHeadTrickledUnderTheIdleTimeoutGets408AtTheRequestDeadline() async throws {
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(), timeouts: Self.trickleTimeouts)
        // Bytes that make no request part yet: the decoder holds an unfinished head.
        var seconds = 0
        while harness.client.isActive, seconds < 40 {
            harness.client.pipeline.fireChannelReadComplete()
            harness.loop.advanceTime(by: .seconds(4))
            seconds += 4
        }
        #expect(seconds == 12, "cut at CLIENT_REQUEST_TIMEOUT, not at the idle timeout (60 s)")
        #expect(Self.status(try harness.clientParts()) == .requestTimeout)
    }

    @Test func aSteadyClientKeepsItsConnectionAcrossManyRequests() async throws {
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(), timeouts: Self.trickleTimeouts)
        for _ in 0..<5 {
            try harness.client.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/healthz")))
            try harness.client.writeInbound(HTTPServerRequestPart.end(nil))
            harness.loop.advanceTime(by: .seconds(4))
            try harness.client.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
            try harness.client.writeOutbound(HTTPServerResponsePart.end(nil))
        }
        #expect(harness.client.isActive, "20 s of requests, none slower than the deadline: the connection stays")
        #expect(try harness.clientParts().allSatisfy { if case .head(let head) = $0 { return head.status == .ok } else { return true } })
    }

    // MARK: Pipelining

    @Test func pipelinedRequestsBehindASlowAnswerStopTheReadsPastTheBoundUntilTheyDrain() async throws {
        var socketReads = 0
        let counter = ProxyFrontHandlerTests.ReadCounter { socketReads += 1 }
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(), socketSide: [counter])
        try harness.request()
        harness.client.read()
        #expect(socketReads == 1, "a request waiting for its answer does not stop the reads")
        _ = try harness.upstreamRequest()
        for _ in 0..<8 {
            try harness.client.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/healthz")))
            try harness.client.writeInbound(HTTPServerRequestPart.end(nil))
        }
        harness.client.read()
        #expect(socketReads == 1, "8 requests wait behind a slow answer: the socket is not read")
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        for answered in 1...4 {
            #expect(socketReads == 1, "still \(8 - answered + 1) waiting")
            try harness.client.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
            try harness.client.writeOutbound(HTTPServerResponsePart.end(nil))
        }
        #expect(socketReads == 2, "three left waiting: the held read goes out, once")
        harness.client.read()
        #expect(socketReads == 3)
    }

    @Test func aLargePipelinedBodyStopsTheReadsAt64KiB() async throws {
        var socketReads = 0
        let counter = ProxyFrontHandlerTests.ReadCounter { socketReads += 1 }
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(maxBodyBytes: 1 << 20), socketSide: [counter])
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.request(headers: [("Authorization", "Bearer \(ProxyFrontHandlerTests.proxyKey)"), ("Content-Length", "300000")], body: nil, end: false)
        for _ in 0..<3 {
            harness.client.read()
            try harness.client.writeInbound(HTTPServerRequestPart.body(ByteBuffer(repeating: 0x61, count: 30_000)))
        }
        let readsWhileQueued = socketReads
        harness.client.read()
        #expect(socketReads == readsWhileQueued, "90 kB of a pipelined body wait: the socket is not read")
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        #expect(socketReads == readsWhileQueued + 1, "the waiting body went to its exchange: reading resumes")
    }

    // MARK: An answer that breaks after its head

    @Test func anAnswerThatBreaksRightAfterItsHeadIsA502InTheClientsFormat() async throws {
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService())
        try harness.request()
        _ = try harness.upstreamRequest()
        // Head, then bad chunk framing in the same read: the decoder fails before the read completes.
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: HTTPHeaders([("Transfer-Encoding", "chunked"), ("Content-Type", "application/json")]))
        harness.upstreams.last.pipeline.fireChannelRead(HTTPClientResponsePart.head(head))
        harness.upstreams.last.pipeline.fireErrorCaught(HTTPParserError.invalidChunkSize)
        let parts = try harness.clientParts()
        #expect(Self.status(parts) == .badGateway, "\(parts)")
        let error = try #require(try Self.bodyObject(parts)["error"] as? [String: Any])
        #expect(error["code"] as? String == "upstream_unavailable")
        #expect(harness.client.isActive, "nothing was cut: the connection serves the next request")
    }

    @Test func anAnswerThatBreaksAfterItsHeadLeftIsACutConnection() async throws {
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService())
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Transfer-Encoding", "chunked")], body: [], end: false)
        #expect(Self.status(try harness.clientParts()) == .ok, "the head left at the end of its read")
        harness.upstreams.last.pipeline.fireErrorCaught(HTTPParserError.invalidChunkSize)
        #expect(!harness.client.isActive, "bytes were sent: the client sees the cut")
    }

    // MARK: The overall deadline of a request's attempts

    @Test func theOverallDeadlineDefaultsToTwiceTheAttemptTimeout() {
        #expect(ProxySettings(proxyKeys: [], timeout: 20).totalTimeout == 40)
        #expect(ProxySettings(proxyKeys: [], timeout: 20, totalTimeout: 25).totalTimeout == 25)
    }

    @Test func aGETsRetriesAfterTimeoutsFitInTheOverallDeadline() async throws {
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(maxRetries: 3, totalTimeout: 8))
        try harness.client.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(
            version: .http1_1, method: .GET, uri: "/llm/e/v1/models", headers: HTTPHeaders([("Authorization", "Bearer \(ProxyFrontHandlerTests.proxyKey)")])
        )))
        try harness.client.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(harness.upstreams.channels.count == 1)
        harness.loop.advanceTime(by: .seconds(5))
        #expect(harness.upstreams.channels.count == 2, "PROXY_TIMEOUT (5 s): a GET is tried again on another key")
        harness.loop.advanceTime(by: .seconds(3))
        let parts = try harness.clientParts()
        #expect(Self.status(parts) == .gatewayTimeout, "PROXY_TOTAL_TIMEOUT (8 s) cut the second attempt: \(parts)")
        #expect((try Self.bodyObject(parts)["error"] as? [String: Any])?["code"] as? String == "upstream_timeout")
        harness.loop.advanceTime(by: .seconds(30))
        #expect(harness.upstreams.channels.count == 2, "no attempt after the deadline")
    }
}
