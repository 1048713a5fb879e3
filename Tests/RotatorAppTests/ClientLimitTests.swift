import Foundation
import NIOCore
import NIOPosix
import Testing

/// What a node does against its own clients' excesses, on real sockets: oversized heads, too many connections,
/// connections left idle, keys sent in the body.
@Suite struct ClientLimitTests {
    /// A raw connection that sends bytes as given and collects what comes back until the server closes.
    final class RawConnection: ChannelInboundHandler, @unchecked Sendable {
        // Only touched on the channel's event loop (handler callbacks), and read after the channel closed.
        typealias InboundIn = ByteBuffer
        var received = ByteBuffer()
        let channel: any Channel

        private init(channel: any Channel) { self.channel = channel }

        static func open(port: Int) async throws -> RawConnection {
            let holder = Holder()
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handler = RawConnection(channel: channel)
                        holder.connection = handler
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
            _ = channel
            return holder.connection!
        }

        final class Holder: @unchecked Sendable {
            // Set once inside the initializer, read after connect completed.
            var connection: RawConnection?
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received.writeBuffer(&buffer)
        }

        func send(_ text: String) async throws {
            try await channel.writeAndFlush(ByteBuffer(string: text)).get()
        }

        /// Waits until the server has closed the connection (or `limit` passes); true when it closed.
        func closedByServer(within limit: Duration) async -> Bool {
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                if !channel.isActive { return true }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return !channel.isActive
        }

        var text: String { String(buffer: received) }
    }

    @Test func oversizedHeadIsRefusedAndNeverProxied() async throws {
        let node = try await TestNode.start()
        defer { Task { await node.stop() } }
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

    @Test func connectionsOverTheCapAreClosedAtOnce() async throws {
        let node = try await TestNode.start(environment: ["MAX_CONNECTIONS": "2"])
        defer { Task { await node.stop() } }
        let first = try await RawConnection.open(port: node.port)
        let second = try await RawConnection.open(port: node.port)
        let third = try await RawConnection.open(port: node.port)
        #expect(await third.closedByServer(within: .seconds(10)), "the third connection is over MAX_CONNECTIONS=2")
        #expect(first.channel.isActive && second.channel.isActive)
        try await first.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in 0..<100 where !first.text.contains("\r\n\r\n") { try await Task.sleep(for: .milliseconds(20)) }
        #expect(first.text.hasPrefix("HTTP/1.1 200"))
        try await first.channel.close()
        try await second.channel.close()
        try await Task.sleep(for: .milliseconds(100))
        let fourth = try await RawConnection.open(port: node.port)
        try await fourth.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in 0..<200 where !fourth.text.contains("\r\n\r\n") { try await Task.sleep(for: .milliseconds(20)) }
        #expect(fourth.text.hasPrefix("HTTP/1.1 200"), "closed connections free their place")
    }

    @Test func idleAndSlowClientsAreDisconnected() async throws {
        let node = try await TestNode.start(environment: ["CLIENT_IDLE_TIMEOUT": "1", "CLIENT_READ_TIMEOUT": "1"])
        defer { Task { await node.stop() } }
        let idle = try await RawConnection.open(port: node.port)
        #expect(await idle.closedByServer(within: .seconds(10)), "an idle connection closes after CLIENT_IDLE_TIMEOUT")
        let slow = try await RawConnection.open(port: node.port)
        try await slow.send("POST /llm/any/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
        #expect(await slow.closedByServer(within: .seconds(10)), "a head that never ends closes after CLIENT_READ_TIMEOUT")
    }

    @Test func keyInTheJSONBodyStillWorks() async throws {
        let node = try await TestNode.start()
        defer { Task { await node.stop() } }
        let id = try await node.createConfig(slug: "bodykey")
        try await node.addKeys(configID: id, sampleKeys(1))
        let reply = try await node.proxy("bodykey", body: #"{"model":"m","api_key":"\#(TestNode.proxyKey)","messages":[]}"#, headers: [])
        #expect(reply.status == 200, "\(reply.text)")
        let forwarded = try #require(node.mockState.recordedRequests.last)
        #expect(!String(decoding: forwarded.body, as: UTF8.self).contains("api_key"), "the body key is not forwarded")
        let wrong = try await node.proxy("bodykey", body: #"{"model":"m","api_key":"wrong","messages":[]}"#, headers: [])
        #expect(wrong.status == 401)
    }
}
