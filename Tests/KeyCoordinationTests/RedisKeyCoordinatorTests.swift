import Foundation
import KeyCoordination
import LocalTestServers
import Logging
import NIOCore
import NIOPosix
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

    /// Each test's server is stopped before the next test starts (the suite is serialized and an instance ends with
    /// its test): synchronously here, not in a Task that may run during the next test. The client, whose shutdown
    /// is async, has nothing left to talk to and is shut down right after.
    deinit {
        server.stop()
        let client = self.client
        Task { await client.shutdown() }
    }

    private func harness() -> CoordinatorHarness {
        let clock = ManualClock()
        let coordinator = RedisKeyCoordinator(client: client, logger: Logger(label: "test"), clockOverride: { clock.now() })
        return CoordinatorHarness(coordinator: coordinator, advance: { clock.advance(by: $0) })
    }

    @Test func leastRecentlyUsedIsFair() async { await CoordinatorBehaviour.leastRecentlyUsedIsFair(harness()) }
    /// Redis answers over a connection: nothing at once, so the proxy takes the loop's future (and touches no state).
    @Test func answersNothingAtOnce() async {
        let coordinator = harness().coordinator
        await coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1], pacingInterval: 0))
        #expect(coordinator.acquireKeyImmediately(pool: 1, excluding: [], model: nil) == nil)
        #expect(coordinator.reportImmediately(.success, key: 1, pool: 1) == nil)
        #expect(await coordinator.acquireKey(pool: 1, excluding: []) == .key(1))
    }
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
    @Test func tokensJoinTheServingKeysUsage() async { await CoordinatorBehaviour.tokensJoinTheServingKeysUsage(harness()) }
    @Test func coolingThePoolRestsEveryKey() async { await CoordinatorBehaviour.coolingThePoolRestsEveryKey(harness()) }
    @Test func exhaustedQuotaRestsTheKeyWithItsOwnStatus() async {
        await CoordinatorBehaviour.exhaustedQuotaRestsTheKeyWithItsOwnStatus(harness())
    }
    @Test func modelRestLeavesOtherModelsServed() async { await CoordinatorBehaviour.modelRestLeavesOtherModelsServed(harness()) }
    @Test func modelQuotaRestsOnlyThatModel() async { await CoordinatorBehaviour.modelQuotaRestsOnlyThatModel(harness()) }
    @Test func unpickGivesThePickBack() async { await CoordinatorBehaviour.unpickGivesThePickBack(harness()) }

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

    /// A rest reported by one request reaches Redis before a later request's acquire on the same loop: the report rides
    /// the loop's own connection, in order, where one sent from a task on the shared client could arrive after the acquire.
    @Test func reportsOnTheLoopArriveBeforeLaterAcquires() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let loopClient = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port), eventLoopGroup: loop)
        let coordinator = RedisKeyCoordinator(client: client, loopClients: [loopClient], logger: Logger(label: "loop"))
        await coordinator.syncPool(PoolDefinition(id: 31, keyIDs: [1], pacingInterval: 0, version: 1))
        await coordinator.connectLoopClients()
        for round in 0..<20 {
            let model = "model-\(round)"
            // One request's 429 and the next request's acquire, in that order on the loop, in one tick.
            let acquired = try await loop.flatSubmit {
                let reported = coordinator.report(.rateLimited(cooldown: 600, model: model), key: 1, pool: 31, on: loop)
                return coordinator.acquireKey(pool: 31, excluding: [], model: model, on: loop).and(reported)
            }.get().0
            guard case .unavailable = acquired else {
                Issue.record("round \(round): the acquire ran before the rest reached Redis (\(acquired))")
                break
            }
        }
        #expect(!coordinator.isDegraded)
        await coordinator.shutdownLoopClients()
    }

    /// A report on the loop while Redis is away falls back as an acquire does: judged locally, the coordinator degraded.
    @Test func reportsOnTheLoopFallBackWhileRedisIsAway() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let configuration = RedisConfiguration(host: "127.0.0.1", port: server.port, commandTimeout: .milliseconds(300))
        let loopClient = RedisClient(configuration: configuration, eventLoopGroup: loop)
        let shared = RedisClient(configuration: configuration)
        let coordinator = RedisKeyCoordinator(client: shared, loopClients: [loopClient], logger: Logger(label: "loop-away"))
        await coordinator.syncPool(PoolDefinition(id: 32, keyIDs: [1, 2], pacingInterval: 0, version: 1))
        await coordinator.connectLoopClients()
        server.pause()
        let effect = try await loop.flatSubmit {
            coordinator.report(.rateLimited(cooldown: 600), key: 1, pool: 32, on: loop)
        }.get()
        guard case .cooledDown = effect else {
            Issue.record("the local fallback did not judge the report: \(effect)")
            server.resume()
            return
        }
        #expect(coordinator.isDegraded)
        #expect(try await loop.flatSubmit { coordinator.acquireKey(pool: 32, excluding: [], model: nil, on: loop) }.get() == .key(2),
                "the rest was kept locally")
        server.resume()
        await coordinator.shutdownLoopClients()
        await shared.shutdown()
    }

    /// The happy path is one Redis round trip: acquire, then a success that needs no report.
    @Test func oneRoundTripPerRequest() async throws {
        let coordinator = RedisKeyCoordinator(client: client, logger: Logger(label: "rt"))
        await coordinator.syncPool(PoolDefinition(id: 11, keyIDs: [1, 2, 3], pacingInterval: 0, version: 1))
        _ = try await client.send(["CONFIG", "RESETSTAT"])
        // Half the requests name a model, and one key rests for it: model rests cost no extra round trip.
        await coordinator.report(.rateLimited(cooldown: 600, model: "gpt-4o"), key: 3, pool: 11)
        _ = try await client.send(["CONFIG", "RESETSTAT"])
        for step in 0..<50 {
            let model = step.isMultiple(of: 2) ? "gpt-4o" : nil
            guard case .key(let id) = await coordinator.acquireKey(pool: 11, excluding: [], model: model) else { Issue.record("no key"); return }
            if model != nil { #expect(id != 3, "key 3 rests for gpt-4o") }
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

    /// The schedule alone is gone (evicted, deleted by hand) while the pool's meta survives: the next request
    /// re-seeds it instead of finding an empty pool.
    @Test func reseedsASchedulesGoneWhileItsMetaSurvives() async throws {
        let clock = ManualClock()
        let coordinator = RedisKeyCoordinator(client: client, logger: Logger(label: "s"), clockOverride: { clock.now() })
        await coordinator.syncPool(PoolDefinition(id: 21, keyIDs: [1, 2], pacingInterval: 0, version: 3))
        _ = try await client.send(["DEL", "rk1:{pool:21}:schedule"])
        #expect(try await client.send(["EXISTS", "rk1:{pool:21}:meta"]).int == 1)
        guard case .key = await coordinator.acquireKey(pool: 21, excluding: []) else {
            Issue.record("the pool was not re-seeded")
            return
        }
        #expect(try await client.send(["ZCARD", "rk1:{pool:21}:schedule"]).int == 2)
        #expect(!coordinator.isDegraded)

        // A pool whose keys were all invalidated has no schedule either, and stays empty without a loop.
        await coordinator.syncPool(PoolDefinition(id: 22, keyIDs: [5], pacingInterval: 0, version: 1))
        for _ in 0..<CoordinationPolicy.standard.rejectionsBeforeInvalid {
            await coordinator.report(.rejected(reason: "401"), key: 5, pool: 22)
            clock.advance(by: 60)
        }
        #expect(await coordinator.acquireKey(pool: 22, excluding: []) == .empty)
    }

    /// Removing a pool leaves none of its keys in Redis, usage counters included.
    @Test func removingAPoolRemovesEveryKeyOfIt() async throws {
        let clock = ManualClock()
        let coordinator = RedisKeyCoordinator(client: client, logger: Logger(label: "x"), clockOverride: { clock.now() })
        await coordinator.syncPool(PoolDefinition(id: 23, keyIDs: [1, 2], pacingInterval: 0, version: 1))
        _ = await coordinator.acquireKey(pool: 23, excluding: [])
        await coordinator.report(.rateLimited(cooldown: 10), key: 1, pool: 23)
        let before = try await client.send(["KEYS", "rk1:{pool:23}:*"]).array?.compactMap(\.string).sorted() ?? []
        #expect(before == ["rk1:{pool:23}:keys", "rk1:{pool:23}:meta", "rk1:{pool:23}:schedule", "rk1:{pool:23}:usage"])
        await coordinator.removePool(id: 23)
        #expect(try await client.send(["KEYS", "rk1:{pool:23}:*"]).array?.isEmpty == true)
    }

    // MARK: Login attempts

    private func loginHarness() async throws -> LoginLimiterHarness {
        _ = try await client.send(["FLUSHALL"])
        let clock = ManualClock()
        return LoginLimiterHarness(
            limiter: RedisLoginAttemptLimiter(client: client, policy: LoginLimiterHarness.policy, logger: Logger(label: "l"), clockOverride: { clock.now() }),
            advance: { clock.advance(by: $0) }
        )
    }

    @Test func loginLocksAClientAndBacksOff() async throws { await LoginLimiterBehaviour.locksAClientAndBacksOff(try await loginHarness()) }
    @Test func loginSlowsAUserNameWithoutLockingItOut() async throws { await LoginLimiterBehaviour.slowsAUserNameWithoutLockingItOut(try await loginHarness()) }
    @Test func loginSuccessClearsBoth() async throws { await LoginLimiterBehaviour.successClearsBoth(try await loginHarness()) }
    @Test func loginLocksAreCappedAndForgotten() async throws { await LoginLimiterBehaviour.locksAreCappedAndForgotten(try await loginHarness()) }
    @Test func loginConcurrentGuessesMeetTheLimit() async throws { await LoginLimiterBehaviour.concurrentGuessesMeetTheLimit(try await loginHarness()) }

    /// Two nodes on one Redis count one address's attempts together.
    @Test func loginAttemptsAreSharedByNodes() async throws {
        _ = try await client.send(["FLUSHALL"])
        let nodeA = RedisLoginAttemptLimiter(client: client, policy: LoginLimiterHarness.policy, logger: Logger(label: "a"))
        let nodeB = RedisLoginAttemptLimiter(client: client, policy: LoginLimiterHarness.policy, logger: Logger(label: "b"))
        for _ in 0..<3 { #expect(await nodeA.admit(address: "10.5.0.1", username: "admin") == .allowed) }
        guard case .throttled = await nodeB.admit(address: "10.5.0.1", username: "admin") else {
            Issue.record("the other node did not see the attempts")
            return
        }
        // Every record expires by itself: Redis memory stays bounded.
        let keys = try await client.send(["KEYS", "rotator:{login}:*"]).array?.compactMap(\.string) ?? []
        #expect(keys.count == 2)
        for key in keys { #expect((try await client.send(["TTL", key]).int ?? -1) > 0) }
    }

    // MARK: Admin token revocations

    /// A logout on one node ends the token on every node sharing the Redis; the entry expires with the token.
    @Test func revokedTokensAreSharedByNodes() async throws {
        _ = try await client.send(["FLUSHALL"])
        let nodeA = RedisTokenRevocationList(client: client, logger: Logger(label: "a"))
        let nodeB = RedisTokenRevocationList(client: client, logger: Logger(label: "b"))
        #expect(await nodeB.isRevoked(id: "token-1") == false)
        await nodeA.revoke(id: "token-1", expiresAt: Date().timeIntervalSince1970 + 120)
        #expect(await nodeB.isRevoked(id: "token-1"))
        #expect(await nodeB.isRevoked(id: "token-2") == false)
        let ttl = try await client.send(["TTL", "rotator:revoked-token:token-1"]).int ?? -1
        #expect((1...120).contains(ttl), "ttl \(ttl)")
    }
}
