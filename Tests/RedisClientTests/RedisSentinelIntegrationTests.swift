import Foundation
import LocalTestServers
import Logging
import NIOPosix
@testable import RedisClient
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Redis through Sentinel against real servers: a master, a replica and three Sentinels on loopback.
@Suite("Redis through Sentinel", .serialized, .enabled(if: RedisTestServer.shouldRun))
struct RedisSentinelIntegrationTests {
    static func locator(_ group: RedisSentinelTestGroup) -> RedisMasterLocator {
        RedisMasterLocator(
            configuration: RedisSentinelConfiguration(
                sentinels: group.sentinelPorts.map { RedisEndpoint(host: "127.0.0.1", port: $0) }, masterName: RedisSentinelTestGroup.masterName
            ),
            connectTimeout: .seconds(2), commandTimeout: .seconds(2),
            backoff: ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(300))
        )
    }

    /// Host and port are the Sentinels' business; these would be wrong.
    static let configuration = RedisConfiguration(
        host: "127.0.0.1", port: 1, connectTimeout: .seconds(2), commandTimeout: .seconds(2),
        reconnectBackoff: ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(300))
    )

    @Test func aReplicaIsRefusedAsMasterAndReadOnlyClosesTheConnection() async throws {
        let master = try await RedisTestServer.start()
        defer { master.stop() }
        let replica = try await RedisTestServer.start(replicaOf: master.port)
        defer { replica.stop() }
        var onReplica = Self.configuration
        onReplica.port = replica.port
        let logger = Logger(label: "test")
        let refused = await #expect(throws: RedisError.self) {
            try await RedisConnection.open(onReplica, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, requireMaster: true, logger: logger)
        }
        guard case .notMaster(let reason) = refused else {
            Issue.record("expected notMaster, got \(String(describing: refused))")
            return
        }
        #expect(reason.contains("\(replica.port)") && reason.contains("slave"), "\(reason)")

        // A plain connection (REDIS_URL) keeps its connection on READONLY: nothing better to reconnect to.
        let plain = try await RedisConnection.open(onReplica, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        #expect(try await plain.sendReturningErrorReply(["SET", "k", "v"]).errorMessage?.hasPrefix("READONLY") == true)
        #expect(plain.isOpen)
        await plain.close()

        // A Sentinel-managed connection whose master was demoted under it closes, so its owner finds the master again.
        let demoted = try await RedisConnection.connect(
            host: "127.0.0.1", port: replica.port, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, connectTimeout: .seconds(2),
            commandTimeout: .seconds(2), pushHandler: nil, closesOnReadOnly: true, logger: logger
        )
        #expect(try await demoted.sendReturningErrorReply(["SET", "k", "v"]).errorMessage?.hasPrefix("READONLY") == true)
        #expect(await eventually(timeout: .seconds(5)) { !demoted.isOpen })
    }

    @Test func aManualFailoverIsHeardThroughSwitchMaster() async throws {
        let group = try await RedisSentinelTestGroup.start()
        defer { group.stop() }
        let locator = Self.locator(group)
        let first = try await locator.master()
        #expect(first.port == group.master.port)
        let moved = Task { await locator.waitUntilMoved(from: first) }
        // The old master stays up: only +switch-master (or asking again) can tell the locator; nothing here asks again.
        let reply = RedisTestServer.inlineCommand("SENTINEL failover \(RedisSentinelTestGroup.masterName)", port: group.sentinelPorts[0])
        #expect(reply?.hasPrefix("+OK") == true, "\(reply ?? "no reply")")
        let heard = await eventually(timeout: .seconds(20)) { locator.knownMaster?.port == group.replica.port }
        #expect(heard, "locator still names \(String(describing: locator.knownMaster)); sentinel names \(String(describing: group.masterPortNamedBySentinels()))")
        moved.cancel()
        await moved.value
        await locator.shutdown()
    }

    @Test func theClientAndSubscriberFollowAKilledMaster() async throws {
        let group = try await RedisSentinelTestGroup.start()
        defer { group.stop() }
        let locator = Self.locator(group)
        // Reconnect backoff far longer than the 5 s allowed: only the switch cutting it short brings writes back in time.
        var configuration = Self.configuration
        configuration.reconnectBackoff = ReconnectBackoff(initial: .seconds(20), maximum: .seconds(40))
        let client = RedisClient(configuration: configuration, masterLocator: locator)
        let subscriber = RedisSubscriber(configuration: configuration, healthCheckInterval: .milliseconds(500), masterLocator: locator)
        let events = Mutex<[RedisPubSubEvent]>([])
        let reader = Task {
            for await event in subscriber.messages(channel: "news") { events.withLock { $0.append(event) } }
        }
        _ = try await client.send(["SET", "before", "1"])
        // Replication is asynchronous: wait until the replica has the write, so that it must survive the failover.
        #expect(try await client.send(["WAIT", "1", "5000"]) == .integer(1))
        #expect(locator.knownMaster?.port == group.master.port)
        #expect(await eventually { events.withLock { $0.contains(.subscribed) } })

        group.master.kill(signal: SIGKILL)
        let killed = ContinuousClock.now
        var switched: ContinuousClock.Instant?
        while ContinuousClock.now - killed < .seconds(30) {
            if group.masterPortNamedBySentinels() == group.replica.port {
                switched = ContinuousClock.now
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let switchedAt = try #require(switched, "the Sentinels never promoted the replica")
        let writable = await eventually(timeout: .seconds(15)) { (try? await client.send(["SET", "after", "1"])) != nil }
        let backAfter = ContinuousClock.now - switchedAt
        print("sentinel failover: switch \(switchedAt - killed) after the kill; writes back \(backAfter) after the switch")
        #expect(writable)
        #expect(backAfter < .seconds(5), "writes back \(backAfter) after the switch")
        #expect(locator.knownMaster?.port == group.replica.port)
        #expect(RedisSentinelTestGroup.role(port: group.replica.port) == "master")
        // The data written before the kill came along by replication.
        #expect(try await client.send(["GET", "before"]).string == "1")

        // The subscriber is back on the new master: a message published there arrives.
        #expect(await eventually(timeout: .seconds(10)) { events.withLock { $0.contains(.resubscribed) } })
        let delivered = await eventually(timeout: .seconds(5)) {
            _ = try? await client.send(["PUBLISH", "news", "hello"])
            return events.withLock { $0.contains(.message(Array("hello".utf8))) }
        }
        #expect(delivered)
        reader.cancel()
        await subscriber.shutdown()
        await client.shutdown()
        await locator.shutdown()
    }
}
