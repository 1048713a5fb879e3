import KeyCoordination
import LocalTestServers
import Logging
import RedisClient
import RedisCoordination
import Testing

/// The same behaviour suite as the in-memory coordinator, against a real redis-server: the Lua script gets
/// the test's clock instead of Redis TIME so time can be moved by hand.
@Suite(.serialized, .enabled(if: RedisTestServer.shouldRun)) final class RedisKeyCoordinatorTests {
    let server: RedisTestServer
    let client: RedisClient

    init() async throws {
        server = try await RedisTestServer.start()
        client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
    }

    deinit {
        let client = self.client
        let server = self.server
        Task {
            await client.shutdown()
            server.stop()
        }
    }

    private func harness() -> CoordinatorHarness {
        let clock = ManualClock()
        let coordinator = RedisKeyCoordinator(client: client, logger: Logger(label: "test"), clockOverride: { clock.now() })
        return CoordinatorHarness(coordinator: coordinator, advance: { clock.advance(by: $0) })
    }

    @Test func leastRecentlyUsedIsFair() async { await CoordinatorBehaviour.leastRecentlyUsedIsFair(harness()) }
    @Test func roundRobinOrder() async { await CoordinatorBehaviour.roundRobinOrder(harness()) }
    @Test func cooldownSkipsKeyUntilItFrees() async { await CoordinatorBehaviour.cooldownSkipsKeyUntilItFrees(harness()) }
    @Test func allCoolingReportsSoonestFree() async { await CoordinatorBehaviour.allCoolingReportsSoonestFree(harness()) }
    @Test func rejectionsQuarantineThenInvalidate() async { await CoordinatorBehaviour.rejectionsQuarantineThenInvalidate(harness()) }
    @Test func successResetsRejectionCount() async { await CoordinatorBehaviour.successResetsRejectionCount(harness()) }
    @Test func pacingSpacesUses() async { await CoordinatorBehaviour.pacingSpacesUses(harness()) }
    @Test func exclusionSkipsTriedKeys() async { await CoordinatorBehaviour.exclusionSkipsTriedKeys(harness()) }
    @Test func syncKeepsStateAndDropsRemovedKeys() async { await CoordinatorBehaviour.syncKeepsStateAndDropsRemovedKeys(harness()) }
    @Test func emptyPool() async { await CoordinatorBehaviour.emptyPool(harness()) }
    @Test func usageIsCountedAndDrained() async { await CoordinatorBehaviour.usageIsCountedAndDrained(harness()) }
    @Test func coolingThePoolRestsEveryKey() async { await CoordinatorBehaviour.coolingThePoolRestsEveryKey(harness()) }
    @Test func exhaustedQuotaRestsTheKeyWithItsOwnStatus() async {
        await CoordinatorBehaviour.exhaustedQuotaRestsTheKeyWithItsOwnStatus(harness())
    }

    /// Two coordinators (two nodes) on one Redis share cooldowns.
    @Test func nodesShareCooldowns() async throws {
        let clock = ManualClock()
        let nodeA = RedisKeyCoordinator(client: client, logger: Logger(label: "a"), clockOverride: { clock.now() })
        let nodeB = RedisKeyCoordinator(client: client, logger: Logger(label: "b"), clockOverride: { clock.now() })
        let pool = PoolDefinition(id: 7, keyIDs: [1, 2], pacingInterval: 0, version: 1)
        await nodeA.syncPool(pool)
        await nodeB.syncPool(pool)
        await nodeA.report(.rateLimited(cooldown: 30), key: 1, pool: 7)
        for _ in 0..<5 {
            #expect(await nodeB.acquireKey(pool: 7, excluding: []) == .key(2))
            clock.advance(by: 0.01)
        }
    }

    /// The happy path is one Redis round trip: acquire, then a success that needs no report.
    @Test func oneRoundTripPerRequest() async throws {
        let coordinator = RedisKeyCoordinator(client: client, logger: Logger(label: "rt"))
        await coordinator.syncPool(PoolDefinition(id: 11, keyIDs: [1, 2, 3], pacingInterval: 0, version: 1))
        _ = try await client.send(["CONFIG", "RESETSTAT"])
        for _ in 0..<50 {
            guard case .key(let id) = await coordinator.acquireKey(pool: 11, excluding: []) else { Issue.record("no key"); return }
            await coordinator.report(.success, key: id, pool: 11)
        }
        let stats = try await client.send(["INFO", "commandstats"]).string ?? ""
        let line = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_evalsha:") } ?? ""
        let calls = line.split(separator: ",").first?.split(separator: "=").last.flatMap { Int($0) }
        #expect(calls == 50, "\(line)")
    }

    /// FLUSHALL (or a Redis restart) loses nothing: the next call re-seeds the pool from the node's cache.
    @Test func reseedsAfterFlush() async throws {
        let clock = ManualClock()
        let coordinator = RedisKeyCoordinator(client: client, logger: Logger(label: "r"), clockOverride: { clock.now() })
        await coordinator.syncPool(PoolDefinition(id: 8, keyIDs: [1, 2, 3], pacingInterval: 0, version: 4))
        _ = try await client.send(["FLUSHALL"])
        var seen: Set<Int64> = []
        for _ in 0..<3 {
            if case .key(let id) = await coordinator.acquireKey(pool: 8, excluding: []) { seen.insert(id) }
            clock.advance(by: 0.01)
        }
        #expect(seen == [1, 2, 3])
        #expect(!coordinator.isDegraded)
    }

    /// Redis paused: selection goes on locally (degraded), and resumes shared when Redis is back.
    @Test func fallsBackWhileRedisIsAway() async throws {
        let quick = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port, commandTimeout: .milliseconds(300)))
        let coordinator = RedisKeyCoordinator(client: quick, logger: Logger(label: "d"))
        await coordinator.syncPool(PoolDefinition(id: 9, keyIDs: [1, 2], pacingInterval: 0, version: 1))
        server.pause()
        var served = 0
        for _ in 0..<10 {
            if case .key = await coordinator.acquireKey(pool: 9, excluding: []) { served += 1 }
        }
        #expect(served == 10, "no request fails only because Redis is away")
        #expect(coordinator.isDegraded)
        server.resume()
        var recovered = false
        // Until it recovers (reconnects back off), within a bound only a broken reconnect reaches.
        for _ in 0..<300 where !recovered {
            try await Task.sleep(for: .milliseconds(100))
            _ = await coordinator.acquireKey(pool: 9, excluding: [])
            recovered = !coordinator.isDegraded
        }
        #expect(recovered)
        await quick.shutdown()
    }
}
