import ClientAccess
import ConfigCatalog
import Foundation
import KeyCoordination
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Testing

/// The relay's handlers on `EmbeddedChannel`: the client connection and the upstream connection are both embedded
/// channels on one loop, so every byte and every read is seen.
@Suite struct ProxyFrontHandlerTests {
    static let proxyKey = "rk-embedded-test-key-0001"

    /// One OpenAI-format config (id 1) with two keys (ids 1 and 2), served from memory: no store, no database.
    static func makeService(
        maxBodyBytes: Int = 1 << 20, apiFormat: APIFormat = .openAICompatible, outputFormat: String? = nil, maxRetries: Int = 1,
        totalTimeout: Double? = nil, coordinator: any KeyCoordinator = InMemoryKeyCoordinator(),
        clientKeys: ClientKeyRegistry = ClientKeyRegistry(hasher: ClientKeyHasher(encryptionKey: "")), clientQuota: (any ClientQuota)? = nil
    ) async throws -> ProxyService {
        let config = ProxyConfig(
            id: 1, name: "e", slug: "e", configType: .llm, apiKeyLocation: .header, apiKeyName: "", isActive: true, method: nil,
            targetURL: nil, targetBaseURL: "http://upstream.test/v1", apiFormat: apiFormat, outputFormat: outputFormat, keyRPM: 0,
            createdAt: Date(), updatedAt: Date(), version: 1
        )
        let pool = ServingPool(config: config, keys: [UsableKey(id: 1, secret: "sk-upstream-one-0001"), UsableKey(id: 2, secret: "sk-upstream-two-0002")])
        await coordinator.syncPool(PoolDefinition(id: config.id, keyIDs: [1, 2], pacingInterval: 0, version: config.version))
        let logger = Logger(label: "embedded")
        return ProxyService(
            catalog: FixedServingPools([pool]), coordinator: coordinator,
            settings: ProxySettings(proxyKeys: [proxyKey], maxRetries: maxRetries, timeout: 5, totalTimeout: totalTimeout, maxBodyBytes: maxBodyBytes),
            metrics: ProxyMetrics(), accessLog: AccessLogWriter(logger: Logger(label: "off", factory: { _ in SwiftLogNoOpLogHandler() })),
            pools: UpstreamPools(loops: [], tls: try UpstreamTLS(), connectTimeout: .seconds(1)), logger: logger,
            clientKeys: clientKeys, clientQuota: clientQuota
        )
    }

    /// Hands out upstream connections on embedded channels and keeps them for the test to drive.
    final class EmbeddedUpstreams: UpstreamConnecting {
        let loop: EmbeddedEventLoop
        var channels: [EmbeddedChannel] = []
        var released: [UpstreamConnection] = []
        var reads = 0
        init(loop: EmbeddedEventLoop) { self.loop = loop }

        func idleConnection(to origin: UpstreamOrigin) -> UpstreamConnection? { nil }

        func connect(to origin: UpstreamOrigin) -> EventLoopFuture<UpstreamConnection> {
            let connection = UpstreamConnection(origin: origin)
            let channel = EmbeddedChannel(loop: loop)
            try! channel.pipeline.syncOperations.addHandler(ReadCounter { [unowned self] in self.reads += 1 })
            try! channel.pipeline.syncOperations.addHandler(connection)
            try! channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
            channels.append(channel)
            return loop.makeSucceededFuture(connection)
        }

        func release(_ connection: UpstreamConnection) { released.append(connection) }

        var last: EmbeddedChannel { channels.last! }
    }

    /// Counts read() calls that reach the upstream socket (back-pressure shows as reads held back).
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = NIOAny
        let onRead: () -> Void
        init(onRead: @escaping () -> Void) { self.onRead = onRead }
        func read(context: ChannelHandlerContext) {
            onRead()
            context.read()
        }
    }

    /// Stands where Hummingbird's handlers are: records what passed through.
    final class PassedThrough: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        var parts: [HTTPServerRequestPart] = []
        /// Hummingbird's async channel hands buffered parts to its reader only at the end of a read.
        var partsSeenAtReadComplete = 0
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { parts.append(unwrapInboundIn(data)) }
        func channelReadComplete(context: ChannelHandlerContext) { partsSeenAtReadComplete = parts.count }
    }

    struct Harness {
        let loop = EmbeddedEventLoop()
        let client: EmbeddedChannel
        let upstreams: EmbeddedUpstreams
        let passed = PassedThrough()

        /// - Parameter socketSide: handlers between the socket and the front handler (they see its writes, flushes and reads).
        init(service: ProxyService, timeouts: ClientTimeouts = ClientTimeouts(idle: .seconds(60), read: .seconds(5)),
             socketSide: [any ChannelHandler] = []) throws {
            upstreams = EmbeddedUpstreams(loop: loop)
            client = EmbeddedChannel(loop: loop)
            for handler in socketSide { try client.pipeline.syncOperations.addHandler(handler) }
            try client.pipeline.syncOperations.addHandler(ProxyFrontHandler(
                service: service, connector: upstreams, timeouts: timeouts
            ))
            try client.pipeline.syncOperations.addHandler(passed)
            try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func request(_ uri: String = "/llm/e/v1/chat/completions", headers: [(String, String)] = [("Authorization", "Bearer \(ProxyFrontHandlerTests.proxyKey)")],
                     body: String? = #"{"model":"m"}"#, end: Bool = true) throws {
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: uri, headers: HTTPHeaders(headers))
            if let body { head.headers.add(name: "Content-Length", value: String(body.utf8.count)) }
            try client.writeInbound(HTTPServerRequestPart.head(head))
            if let body { try client.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: body))) }
            if end { try client.writeInbound(HTTPServerRequestPart.end(nil)) }
        }

        func clientParts() throws -> [HTTPServerResponsePart] {
            var parts: [HTTPServerResponsePart] = []
            while let part = try client.readOutbound(as: HTTPServerResponsePart.self) { parts.append(part) }
            return parts
        }

        func upstreamRequest() throws -> [HTTPClientRequestPart] {
            var parts: [HTTPClientRequestPart] = []
            while let part = try upstreams.last.readOutbound(as: HTTPClientRequestPart.self) { parts.append(part) }
            return parts
        }

        func answer(_ status: HTTPResponseStatus = .ok, headers: [(String, String)], body: [String] = [], end: Bool = true) throws {
            try upstreams.last.writeInbound(HTTPClientResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(headers))))
            for chunk in body { try upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: chunk))) }
            if end { try upstreams.last.writeInbound(HTTPClientResponsePart.end(nil)) }
        }
    }

    @Test func aBadKeyCostsItsHeadOnly() async throws {
        let harness = try Harness(service: try await Self.makeService())
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/llm/e/v1/chat/completions",
                                   headers: HTTPHeaders([("Authorization", "Bearer wrong"), ("Content-Length", "900000")]))
        head.headers.add(name: "Content-Type", value: "application/json")
        try harness.client.writeInbound(HTTPServerRequestPart.head(head))
        try harness.client.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: String(repeating: "x", count: 100))))
        let parts = try harness.clientParts()
        guard case .head(let head) = parts.first else {
            Issue.record("no answer to a bad key")
            return
        }
        #expect(head.status == .unauthorized)
        #expect(head.headers.first(name: "connection") == "close", "the unread body is not worth reading")
        #expect(harness.upstreams.channels.isEmpty, "nothing went upstream")
        try harness.client.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "more body")))
        try harness.client.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(!harness.client.isActive, "closed once the refused body has ended")
    }

    @Test func aRefusedSmallBodyIsDroppedAndTheConnectionServesTheNextRequest() async throws {
        // A declared small body that has not arrived yet.
        let harness2 = try Harness(service: try await Self.makeService())
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/llm/e/v1/chat/completions",
                                   headers: HTTPHeaders([("Authorization", "Bearer wrong"), ("Content-Length", "10")]))
        head.headers.add(name: "Content-Type", value: "application/json")
        try harness2.client.writeInbound(HTTPServerRequestPart.head(head))
        guard case .head(let refused) = try harness2.clientParts().first else {
            Issue.record("no answer")
            return
        }
        #expect(refused.status == .unauthorized)
        #expect(refused.headers.first(name: "connection") == nil, "kept alive: the rest of the body is small")
        try harness2.client.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "0123456789")))
        try harness2.client.writeInbound(HTTPServerRequestPart.end(nil))
        try harness2.request()
        #expect(harness2.upstreams.channels.count == 1, "the next request on the connection is served")
        #expect(harness2.client.isActive)
    }

    @Test func expectContinueGets100AfterTheHeadChecks() async throws {
        let harness = try Harness(service: try await Self.makeService())
        try harness.request(headers: [("Authorization", "Bearer \(Self.proxyKey)"), ("Expect", "100-continue")], body: nil, end: false)
        guard case .head(let interim) = try harness.clientParts().first else {
            Issue.record("no 100 Continue")
            return
        }
        #expect(interim.status == .continue)
        let refused = try Harness(service: try await Self.makeService())
        try refused.request(headers: [("Authorization", "Bearer wrong"), ("Expect", "100-continue")], body: nil, end: false)
        guard case .head(let answer) = try refused.clientParts().first else {
            Issue.record("no answer to a refused head")
            return
        }
        #expect(answer.status == .unauthorized, "a refused head gets its answer, not a 100")
    }

    @Test func smallAnswerGoesOutInOneFlushAndTheKeyIsSwappedIn() async throws {
        let harness = try Harness(service: try await Self.makeService())
        try harness.request()
        let sent = try harness.upstreamRequest()
        guard case .head(let upstreamHead) = sent.first else {
            Issue.record("nothing sent upstream")
            return
        }
        #expect(upstreamHead.uri == "/v1/chat/completions")
        #expect(upstreamHead.headers.first(name: "authorization")?.hasPrefix("Bearer sk-upstream-") == true)
        #expect(upstreamHead.headers.first(name: "host") == "upstream.test")
        try harness.answer(headers: [("Content-Length", "11"), ("Content-Type", "application/json")], body: ["{\"ok\":", "true}"])
        let parts = try harness.clientParts()
        #expect(parts.count == 3)
        guard case .head(let head) = parts.first, case .body(.byteBuffer(let body)) = parts[1] else {
            Issue.record("expected head, body, end: \(parts)")
            return
        }
        #expect(head.status == .ok)
        #expect(String(buffer: body) == "{\"ok\":true}")
        #expect(harness.upstreams.released.count == 1, "the connection goes back after a complete exchange")
    }

    @Test func shortAnswerIsRetriedNeverATruncated200() async throws {
        let harness = try Harness(service: try await Self.makeService())
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Length", "50")], body: ["{\"partial\""], end: false)
        harness.upstreams.last.pipeline.fireChannelInactive()
        #expect(try harness.clientParts().isEmpty, "nothing reached the client")
        #expect(harness.upstreams.channels.count == 2, "retried on another connection")
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        guard case .head(let head) = try harness.clientParts().first else {
            Issue.record("no answer after the retry")
            return
        }
        #expect(head.status == .ok)
    }

    @Test func streamHonoursBackPressureAndEndsWhenTheClientLeaves() async throws {
        let harness = try Harness(service: try await Self.makeService())
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Type", "text/event-stream")], body: ["data: 1\n\n"], end: false)
        var parts = try harness.clientParts()
        #expect(parts.count == 2, "head and the first event went out at once")
        harness.client.isWritable = false
        harness.client.pipeline.fireChannelWritabilityChanged()
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "data: 2\n\n")))
        let readsBefore = harness.upstreams.reads
        harness.upstreams.last.read()
        #expect(harness.upstreams.reads == readsBefore, "no read upstream while the client cannot take more")
        harness.client.isWritable = true
        harness.client.pipeline.fireChannelWritabilityChanged()
        #expect(harness.upstreams.reads == readsBefore + 1, "the held read goes out once the client drained")
        parts = try harness.clientParts()
        #expect(parts.count == 1)
        let upstream = harness.upstreams.last
        try harness.client.close().wait()
        #expect(!upstream.isActive, "a client that left closes its upstream exchange")
        #expect(harness.upstreams.released.isEmpty)
    }

    @Test func upstreamEOFMidStreamClosesTheClient() async throws {
        let harness = try Harness(service: try await Self.makeService())
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Type", "text/event-stream")], body: ["data: 1\n\n"], end: false)
        _ = try harness.clientParts()
        harness.upstreams.last.pipeline.fireChannelInactive()
        #expect(!harness.client.isActive, "bytes were sent: no retry, the client sees the cut")
        #expect(harness.upstreams.channels.count == 1)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let harness = try Harness(service: try await Self.makeService())
        try harness.request()
        // A pass-through request pipelined behind the proxied one waits until the proxied answer has ended.
        try harness.client.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/healthz")))
        try harness.client.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(harness.passed.parts.isEmpty)
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        #expect(try harness.clientParts().count == 3)
        #expect(harness.passed.parts.count == 2, "the health request went to Hummingbird after the proxied answer")
        #expect(harness.passed.partsSeenAtReadComplete == 2, "a read-complete follows parts that waited, or Hummingbird never sees them")
        // And a proxied request behind a pass-through one waits for that answer's end.
        try harness.request()
        #expect(harness.upstreams.channels.count == 1, "not sent while the health answer is pending")
        try harness.client.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try harness.client.writeOutbound(HTTPServerResponsePart.end(nil))
        #expect(harness.upstreams.channels.count == 2, "sent once the answer before it has ended")
    }

    @Test func aRequestPipelinedBehindAPassThroughAnswerReachesHummingbird() async throws {
        let harness = try Harness(service: try await Self.makeService())
        for uri in ["/admin/login", "/healthz"] {
            try harness.client.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)))
            try harness.client.writeInbound(HTTPServerRequestPart.end(nil))
        }
        #expect(harness.passed.parts.count == 2, "the second request waits for the first answer")
        // The first answer's end goes out (its body flushed before, so the client sent the next request early).
        try harness.client.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try harness.client.writeOutbound(HTTPServerResponsePart.end(nil))
        #expect(harness.passed.parts.count == 4)
        #expect(harness.passed.partsSeenAtReadComplete == 4, "the waiting request is handed over with a read-complete")
    }

    @Test func bodyOverTheLimitIs413BeforeAnythingGoesUpstream() async throws {
        let harness = try Harness(service: try await Self.makeService(maxBodyBytes: 16))
        try harness.request(body: String(repeating: "a", count: 40))
        guard case .head(let head) = try harness.clientParts().first else {
            Issue.record("no 413")
            return
        }
        #expect(head.status == .payloadTooLarge)
        #expect(harness.upstreams.channels.isEmpty)
        var chunked = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/llm/e/v1/chat/completions",
                                      headers: HTTPHeaders([("Authorization", "Bearer \(Self.proxyKey)"), ("Transfer-Encoding", "chunked")]))
        chunked.headers.add(name: "X-Case", value: "chunked")
        let second = try Harness(service: try await Self.makeService(maxBodyBytes: 16))
        try second.client.writeInbound(HTTPServerRequestPart.head(chunked))
        try second.client.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: String(repeating: "b", count: 20))))
        guard case .head(let streamed) = try second.clientParts().first else {
            Issue.record("no 413 for a chunked body")
            return
        }
        #expect(streamed.status == .payloadTooLarge)
        #expect(second.upstreams.channels.isEmpty)
    }

    @Test func slowClientIsCutOffAfterTheReadTimeout() async throws {
        let harness = try Harness(service: try await Self.makeService())
        try harness.request(body: nil, end: false)
        harness.loop.advanceTime(by: .seconds(6))
        #expect(!harness.client.isActive)
    }
}
