import LocalTestServers
import RedisClient
import Testing

@Suite("RedisSubscriber against redis-server", .enabled(if: RedisTestServer.shouldRun))
struct RedisSubscriberIntegrationTests {
    @Test func receivesMessagesAndResubscribesAfterRestart() async throws {
        let password = "pubsub-pass"
        try await withRedisServer(password: password) { server in
            let configuration = testConfiguration(server, password: password)
            let subscriber = RedisSubscriber(configuration: configuration, healthCheckInterval: .milliseconds(500))
            let publisher = RedisClient(configuration: configuration)
            let channel = "rotator:invalidate"

            let first = EventRecorder(subscriber.messages(channel: channel))
            #expect(await eventually { first.all == [.subscribed] })
            #expect(subscriber.isConnected)
            #expect(try await publisher.publish("42", to: channel) == 1)
            #expect(await eventually { first.messages == ["42"] })

            // A second stream on the same channel gets its own confirmation; the first sees no spurious event.
            let second = EventRecorder(subscriber.messages(channel: channel))
            #expect(await eventually { second.all == [.subscribed] })
            // Other channels are not delivered to this stream.
            let other = EventRecorder(subscriber.messages(channel: "other"))
            #expect(await eventually { other.all == [.subscribed] })
            #expect(try await publisher.publish("x", to: "other") == 1)
            // PUBLISH counts connections, not streams: both streams share the subscriber's one connection.
            #expect(try await publisher.publish("43", to: channel) == 1)
            #expect(await eventually { first.messages == ["42", "43"] && second.messages == ["43"] && other.messages == ["x"] })

            try await server.restart()
            #expect(await eventually { first.count(of: .resubscribed) == 1 && second.count(of: .resubscribed) == 1 })
            #expect(await eventually { (try? await publisher.publish("44", to: channel)) == 1 })
            #expect(await eventually { first.messages == ["42", "43", "44"] && second.messages == ["43", "44"] })
            #expect(first.all == [.subscribed, .message(Array("42".utf8)), .message(Array("43".utf8)), .disconnected, .resubscribed, .message(Array("44".utf8))])

            // A stream whose consumer goes away unsubscribes the channel once nobody else wants it.
            other.cancel()
            #expect(await eventually { (try? await publisher.publish("y", to: "other")) == 0 })

            await subscriber.shutdown()
            await publisher.shutdown()
            first.cancel()
            second.cancel()
        }
    }

    @Test func healthCheckNoticesStoppedServer() async throws {
        try await withRedisServer { server in
            let configuration = testConfiguration(server, commandTimeout: .milliseconds(300))
            let subscriber = RedisSubscriber(configuration: configuration, healthCheckInterval: .milliseconds(200))
            let events = EventRecorder(subscriber.messages(channel: "c"))
            #expect(await eventually { events.all == [.subscribed] })
            server.pause()
            #expect(await eventually(timeout: .seconds(20)) { events.all.contains(.disconnected) })
            server.resume()
            #expect(await eventually { events.all.last == .resubscribed })
            await subscriber.shutdown()
            events.cancel()
        }
    }
}
