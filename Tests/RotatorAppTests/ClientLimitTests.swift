import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// What a node does against its own clients' excesses, on real sockets: oversized heads, too many connections,
/// connections left idle, keys sent in the body.
@Suite struct ClientLimitTests {
    /// A raw connection that sends bytes as given and collects what comes back until the server closes.
    final class RawConnection: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        /// Written on the channel's event loop, read by the test while the connection is open: behind a lock.
        private let received = Mutex(ByteBuffer())
        /// Each read as it happened on the event loop: when, and what it held.
        private let reads = Mutex<[TimedRead]>([])
        let channel: any Channel

        struct TimedRead: Sendable {
            var at: ContinuousClock.Instant
            var text: String
        }

        private init(channel: any Channel) { self.channel = channel }

        static func open(port: Int) async throws -> RawConnection {
            // Kept from the initializer: a connection the server closes at once may have left its pipeline by the
            // time `connect` returns.
            let made = Made()
            _ = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let connection = RawConnection(channel: channel)
                        made.connection.withLock { $0 = connection }
                        try channel.pipeline.syncOperations.addHandler(connection)
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
            return try made.connection.withLock { try #require($0) }
        }

        private final class Made: Sendable {
            let connection = Mutex<RawConnection?>(nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            reads.withLock { $0.append(TimedRead(at: .now, text: String(buffer: buffer))) }
            received.withLock { $0.writeBuffer(&buffer) }
        }

        func send(_ text: String) async throws {
            try await channel.writeAndFlush(ByteBuffer(string: text)).get()
        }

        /// Waits until `condition` holds (checked every 10 ms) or `limit` passes; true when it held. A deadline for
        /// a machine that never gets there, not a window the machine must be fast enough for.
        func waitUntil(within limit: Duration = .seconds(10), _ condition: (RawConnection) -> Bool) async -> Bool {
            let deadline = ContinuousClock.now + limit
            while !condition(self) {
                guard ContinuousClock.now < deadline else { return false }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return true
        }

        /// Waits until the server has closed the connection (or `limit` passes); true when it closed.
        func closedByServer(within limit: Duration) async -> Bool {
            await waitUntil(within: limit) { !$0.channel.isActive }
        }

        /// Sends a `GET /healthz` and waits for the whole head of the answer, or for the server to close instead
        /// (then what came before the close, often nothing: a connection refused on accept may be closed before
        /// the request is even written).
        func askHealth() async -> String {
            try? await send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = await waitUntil { $0.text.contains("\r\n\r\n") || !$0.channel.isActive }
            return text
        }

        var text: String { received.withLock { String(buffer: $0) } }

        /// The reads so far, timed on the event loop (not when a test task got around to looking).
        var timedReads: [TimedRead] { reads.withLock { $0 } }
    }

    @Test func oversizedHeadIsRefusedAndNeverProxied() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "heads")
            try await node.addKeys(configID: id, sampleKeys(1))
            let connection = try await RawConnection.open(port: node.port)
            let huge = String(repeating: "a", count: 80 * 1024)
            try await connection.send("POST /llm/heads/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestNode.proxyKey)\r\nX-Big: \(huge)\r\nContent-Length: 2\r\n\r\n{}")
            #expect(await connection.closedByServer(within: .seconds(10)), "an oversized head closes the connection")
            #expect(connection.text.hasPrefix("HTTP/1.1 400"), "\(connection.text.prefix(80))")
            let many = (0..<300).map { "X-H\($0): v\r\n" }.joined()
            let second = try await RawConnection.open(port: node.port)
            try await second.send("GET /llm/heads/v1/models HTTP/1.1\r\nHost: x\r\n\(many)\r\n")
            #expect(await second.closedByServer(within: .seconds(10)), "too many header fields close the connection")
            #expect(node.mockState.recordedRequests.isEmpty, "nothing reached the upstream")
            #expect(try await node.proxy("heads").status == 200, "the node still serves")
        }
    }

    /// Each connection is known to be admitted (it was served) before the next one opens: connections are set up
    /// on the event loop each one lands on, so three opened at once may be admitted in any order, and which one of
    /// them is over the cap is then not the third. The cap holds either way; the test must not assume an order.
    @Test func connectionsOverTheCapAreClosedAtOnce() async throws {
        try await withRunningNode(environment: ["MAX_CONNECTIONS": "2"]) { node in
            let first = try await RawConnection.open(port: node.port)
            #expect(await first.askHealth().hasPrefix("HTTP/1.1 200"), "the first connection is served")
            let second = try await RawConnection.open(port: node.port)
            #expect(await second.askHealth().hasPrefix("HTTP/1.1 200"), "the second connection is served")
            let third = try await RawConnection.open(port: node.port)
            #expect(await third.closedByServer(within: .seconds(10)), "the third connection is over MAX_CONNECTIONS=2")
            #expect(third.text.isEmpty, "closed without an answer")
            #expect(first.channel.isActive && second.channel.isActive)
            try await first.channel.close()
            try await second.channel.close()
            // The server frees a place once it has seen the close, which a busy machine may take a while to do:
            // until a new connection is served, within a deadline only a place never freed reaches.
            let deadline = ContinuousClock.now + .seconds(10)
            var answer = ""
            while ContinuousClock.now < deadline {
                let fourth = try await RawConnection.open(port: node.port)
                answer = await fourth.askHealth()
                try? await fourth.channel.close()
                if !answer.isEmpty { break }
            }
            #expect(answer.hasPrefix("HTTP/1.1 200"), "closed connections free their place: \(answer.prefix(80))")
        }
    }

    @Test func idleAndSlowClientsAreDisconnected() async throws {
        try await withRunningNode(environment: ["CLIENT_IDLE_TIMEOUT": "1", "CLIENT_READ_TIMEOUT": "1"]) { node in
            let idle = try await RawConnection.open(port: node.port)
            #expect(await idle.closedByServer(within: .seconds(10)), "an idle connection closes after CLIENT_IDLE_TIMEOUT")
            let slow = try await RawConnection.open(port: node.port)
            try await slow.send("POST /llm/any/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
            #expect(await slow.closedByServer(within: .seconds(10)), "a head that never ends closes after CLIENT_READ_TIMEOUT")
        }
    }

    @Test func keyInTheJSONBodyStillWorks() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "bodykey")
            try await node.addKeys(configID: id, sampleKeys(1))
            let reply = try await node.proxy("bodykey", body: #"{"model":"m","api_key":"\#(TestNode.proxyKey)","messages":[{"role":"user","content":"hi"}]}"#, headers: [])
            #expect(reply.status == 200, "\(reply.text)")
            let forwarded = try #require(node.mockState.recordedRequests.last)
            #expect(!String(decoding: forwarded.body, as: UTF8.self).contains("api_key"), "the body key is not forwarded")
            let wrong = try await node.proxy("bodykey", body: #"{"model":"m","api_key":"wrong","messages":[{"role":"user","content":"hi"}]}"#, headers: [])
            #expect(wrong.status == 401)
        }
    }
}
