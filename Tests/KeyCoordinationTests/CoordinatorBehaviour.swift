import KeyCoordination
import RotatorCore
import Testing

/// The behaviour every `KeyCoordinator` must show, written once. Each implementation's test file runs these
/// against a fresh coordinator whose clock the test can move.
struct CoordinatorHarness {
    let coordinator: any KeyCoordinator
    let advance: @Sendable (Double) async -> Void
}

enum CoordinatorBehaviour {
    static func acquire(_ h: CoordinatorHarness, pool: Int64 = 1, excluding: Set<Int64> = [], model: String? = nil) async -> Int64? {
        if case .key(let id) = await h.coordinator.acquireKey(pool: pool, excluding: excluding, model: model) { return id }
        return nil
    }

    static func leastRecentlyUsedIsFair(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: Array(1...10), pacingInterval: 0))
        var counts: [Int64: Int] = [:]
        for _ in 0..<1000 {
            guard let id = await acquire(h) else { Issue.record("no key"); return }
            counts[id, default: 0] += 1
            await h.advance(0.001)
        }
        #expect(counts.count == 10)
        #expect(counts.values.allSatisfy { $0 == 100 }, "\(counts)")
    }

    static func roundRobinOrder(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2, 3], pacingInterval: 0))
        var order: [Int64] = []
        for _ in 0..<6 {
            if let id = await acquire(h) { order.append(id) }
            await h.advance(0.001)
        }
        #expect(order == [1, 2, 3, 1, 2, 3])
    }

    static func cooldownSkipsKeyUntilItFrees(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2], pacingInterval: 0))
        let first = await acquire(h)
        #expect(first == 1)
        let effect = await h.coordinator.report(.rateLimited(cooldown: 30), key: 1, pool: 1)
        guard case .cooledDown = effect else { Issue.record("expected cooldown, got \(effect)"); return }
        for _ in 0..<5 {
            await h.advance(1)
            #expect(await acquire(h) == 2)
        }
        let states = await h.coordinator.runtimeStates(pool: 1)
        #expect(states[1]?.coolingUntil != nil)
        #expect(states[2]?.coolingUntil == nil)
        await h.advance(26)
        var next: Set<Int64> = []
        for _ in 0..<2 {
            if let id = await acquire(h) { next.insert(id) }
            await h.advance(0.01)
        }
        #expect(next == [1, 2], "a freed key is back in rotation")
    }

    static func allCoolingReportsSoonestFree(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2], pacingInterval: 0))
        _ = await acquire(h)
        _ = await acquire(h)
        await h.coordinator.report(.rateLimited(cooldown: 30), key: 1, pool: 1)
        await h.coordinator.report(.rateLimited(cooldown: 12), key: 2, pool: 1)
        let result = await h.coordinator.acquireKey(pool: 1, excluding: [])
        guard case .unavailable(let wait) = result else { Issue.record("expected unavailable, got \(result)"); return }
        #expect(abs(wait - 12) < 0.5)
    }

    static func rejectionsQuarantineThenInvalidate(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2], pacingInterval: 0))
        let first = await h.coordinator.report(.rejected(reason: "401"), key: 1, pool: 1)
        guard case .quarantined = first else { Issue.record("expected quarantine, got \(first)"); return }
        #expect(await acquire(h) == 2)
        await h.advance(60)
        let second = await h.coordinator.report(.rejected(reason: "401"), key: 1, pool: 1)
        guard case .quarantined = second else { Issue.record("expected quarantine, got \(second)"); return }
        await h.advance(60)
        let third = await h.coordinator.report(.rejected(reason: "401"), key: 1, pool: 1)
        #expect(third == .invalidated)
        await h.advance(3600)
        for _ in 0..<3 {
            #expect(await acquire(h) == 2, "an invalid key is never handed out")
            await h.advance(0.01)
        }
    }

    static func successResetsRejectionCount(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1], pacingInterval: 0))
        for _ in 0..<5 {
            let effect = await h.coordinator.report(.rejected(reason: "403"), key: 1, pool: 1)
            #expect(effect != .invalidated)
            await h.coordinator.report(.rejected(reason: "403"), key: 1, pool: 1)
            await h.coordinator.report(.success, key: 1, pool: 1)
            await h.advance(60)
        }
        #expect(await acquire(h) == 1)
    }

    static func pacingSpacesUses(_ h: CoordinatorHarness) async {
        // 60 rpm: one use per key per second.
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2], pacingInterval: 1))
        #expect(await acquire(h) != nil)
        #expect(await acquire(h) != nil)
        let third = await h.coordinator.acquireKey(pool: 1, excluding: [])
        guard case .unavailable(let wait) = third else { Issue.record("expected paced out, got \(third)"); return }
        #expect(wait > 0.9 && wait <= 1.0)
        await h.advance(1)
        #expect(await acquire(h) != nil)
    }

    static func exclusionSkipsTriedKeys(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2, 3], pacingInterval: 0))
        #expect(await acquire(h, excluding: [1, 2]) == 3)
        await h.advance(0.01)
        #expect(await acquire(h, excluding: [1]) == 2)
        let none = await h.coordinator.acquireKey(pool: 1, excluding: [1, 2, 3])
        guard case .unavailable = none else { Issue.record("expected unavailable, got \(none)"); return }
        #expect(await acquire(h) == 1, "excluded keys keep their place")
    }

    static func syncKeepsStateAndDropsRemovedKeys(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2], pacingInterval: 0))
        await h.coordinator.report(.rateLimited(cooldown: 100), key: 1, pool: 1)
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2, 3], pacingInterval: 0))
        #expect(await h.coordinator.runtimeStates(pool: 1)[1]?.coolingUntil != nil, "a re-sync keeps cooldowns")
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [3], pacingInterval: 0))
        #expect(await acquire(h) == 3)
        await h.coordinator.removePool(id: 1)
        #expect(await h.coordinator.acquireKey(pool: 1, excluding: []) == .empty)
    }

    static func emptyPool(_ h: CoordinatorHarness) async {
        #expect(await h.coordinator.acquireKey(pool: 42, excluding: []) == .empty)
        await h.coordinator.syncPool(PoolDefinition(id: 42, keyIDs: [], pacingInterval: 0))
        #expect(await h.coordinator.acquireKey(pool: 42, excluding: []) == .empty)
    }

    static func usageIsCountedAndDrained(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2], pacingInterval: 0))
        for _ in 0..<4 {
            _ = await acquire(h)
            await h.advance(0.001)
        }
        await h.coordinator.report(.upstreamFailure(reason: "upstream answered 502"), key: 1, pool: 1)
        let usage = await h.coordinator.drainUsage()
        let byKey = Dictionary(uniqueKeysWithValues: usage.map { ($0.keyID, $0) })
        #expect(byKey[1]?.requests == 2)
        #expect(byKey[2]?.requests == 2)
        #expect(byKey[1]?.errors == 1)
        #expect(byKey[1]?.lastError == "upstream answered 502")
        #expect(byKey[1]?.lastUsedAt != nil)
        #expect(await h.coordinator.drainUsage().isEmpty)
    }
}

extension CoordinatorBehaviour {
    /// An acquire undone (the client key's quota refused the request it was for): the key's next use moves back by the
    /// pacing interval, not before now nor into a rest given since, and its request count drops, not below what a drain
    /// already took.
    static func unpickGivesThePickBack(_ h: CoordinatorHarness) async {
        // One key paced at 10 s: after a pick it is out for 10 s.
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1], pacingInterval: 10, version: 1))
        #expect(await acquire(h) == 1)
        guard case .unavailable(let wait) = await h.coordinator.acquireKey(pool: 1, excluding: []), wait > 9 else {
            Issue.record("the pick should pace the key out")
            return
        }
        await h.advance(1)
        await h.coordinator.unpick(key: 1, pool: 1)
        #expect(await acquire(h) == 1, "the schedule is back: the key serves now")
        let usage = await h.coordinator.drainUsage()
        #expect(usage.first { $0.keyID == 1 }?.requests == 1, "two picks, one undone: \(usage)")

        // A count already drained is not taken back again (no negative usage).
        await h.advance(10)
        #expect(await acquire(h) == 1)
        _ = await h.coordinator.drainUsage()
        await h.coordinator.unpick(key: 1, pool: 1)
        #expect(await h.coordinator.drainUsage().allSatisfy { $0.requests >= 0 })
        #expect(await acquire(h) == 1, "the schedule is back all the same")

        // A rest given since the pick is kept.
        await h.advance(10)
        #expect(await acquire(h) == 1)
        await h.coordinator.report(.rateLimited(cooldown: 30), key: 1, pool: 1)
        await h.coordinator.unpick(key: 1, pool: 1)
        guard case .unavailable(let rest) = await h.coordinator.acquireKey(pool: 1, excluding: []), rest > 29 else {
            Issue.record("the unpick must not cut the 429's rest")
            return
        }
        // Unknown keys and pools: nothing happens.
        await h.coordinator.unpick(key: 99, pool: 1)
        await h.coordinator.unpick(key: 1, pool: 99)
    }

    /// Tokens read from answers join the serving key's usage, summed per key, and leave with the next drain.
    static func tokensJoinTheServingKeysUsage(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2], pacingInterval: 0))
        let served = await acquire(h)
        h.coordinator.recordTokens(key: 1, input: 100, output: 7)
        h.coordinator.recordTokens(key: 1, input: 20, output: 3)
        h.coordinator.recordTokens(key: 2, input: 0, output: 5)
        h.coordinator.recordTokens(key: 2, input: 0, output: 0)
        let usage = Dictionary(uniqueKeysWithValues: await h.coordinator.drainUsage().map { ($0.keyID, $0) })
        #expect(usage[1]?.inputTokens == 120)
        #expect(usage[1]?.outputTokens == 10)
        #expect(usage[2]?.inputTokens == 0)
        #expect(usage[2]?.outputTokens == 5)
        #expect(usage[served ?? 0]?.requests == 1, "requests and tokens of a key are one delta")
        #expect(await h.coordinator.drainUsage().isEmpty)
    }
}

extension CoordinatorBehaviour {
    /// An account-wide limit: the pool rests as one until the reset, then every key serves again.
    static func coolingThePoolRestsEveryKey(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2, 3], pacingInterval: 0))
        #expect(await h.coordinator.poolCooling(pool: 1) == nil)
        let cooling = await h.coordinator.coolPool(pool: 1, seconds: 20, reason: "3 of 3 keys rate limited")
        #expect(cooling?.reason == "3 of 3 keys rate limited")
        for _ in 0..<3 {
            let result = await h.coordinator.acquireKey(pool: 1, excluding: [])
            guard case .unavailable(let wait) = result else { Issue.record("expected the pool to rest, got \(result)"); return }
            #expect(wait > 0 && wait <= 20)
            await h.advance(1)
        }
        // A shorter cooling does not shorten the one in place.
        let kept = await h.coordinator.coolPool(pool: 1, seconds: 2, reason: "shorter")
        #expect(kept?.reason == "3 of 3 keys rate limited")
        #expect(await h.coordinator.poolCooling(pool: 1)?.reason == "3 of 3 keys rate limited")
        await h.advance(18)
        #expect(await h.coordinator.poolCooling(pool: 1) == nil)
        var served: Set<Int64> = []
        for _ in 0..<3 {
            if let id = await acquire(h) { served.insert(id) }
            await h.advance(0.01)
        }
        #expect(served == [1, 2, 3])
        #expect(await h.coordinator.coolPool(pool: 99, seconds: 5, reason: "unknown pool") == nil)
    }

    /// A key whose quota is gone rests long and shows so; the other keys serve on.
    static func exhaustedQuotaRestsTheKeyWithItsOwnStatus(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2], pacingInterval: 0))
        let effect = await h.coordinator.report(.quotaExhausted(cooldown: 3600, reason: "insufficient_quota"), key: 1, pool: 1)
        guard case .cooledDown = effect else { Issue.record("expected a cooldown, got \(effect)"); return }
        let state = await h.coordinator.runtimeStates(pool: 1)
        #expect(state[1]?.quotaExhaustedUntil != nil)
        #expect(state[1]?.coolingUntil != nil)
        #expect(state[2]?.quotaExhaustedUntil == nil)
        await h.advance(120)
        for _ in 0..<2 {
            #expect(await acquire(h) == 2, "an exhausted key does not come back after a rate-limit cooldown")
            await h.advance(0.01)
        }
        await h.advance(3600)
        #expect(await h.coordinator.runtimeStates(pool: 1)[1]?.quotaExhaustedUntil == nil)
        let usage = await h.coordinator.drainUsage()
        #expect(usage.first { $0.keyID == 1 }?.lastError == "insufficient_quota")
    }

    /// A rest scoped to (key, model): the key still serves other models and requests that name none; once every key
    /// rests for the model, that model waits for the soonest, and the rest ends on time.
    static func modelRestLeavesOtherModelsServed(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2], pacingInterval: 0))
        #expect(await acquire(h, model: "model-a") == 1)
        let effect = await h.coordinator.report(.rateLimited(cooldown: 30, model: "model-a"), key: 1, pool: 1)
        guard case .cooledDown = effect else { Issue.record("expected a cooldown, got \(effect)"); return }
        for _ in 0..<3 {
            await h.advance(0.01)
            #expect(await acquire(h, model: "model-a") == 2, "the key rests for model-a only")
        }
        #expect(await acquire(h, excluding: [2], model: "model-a") == nil)
        #expect(await acquire(h, excluding: [2], model: "model-b") == 1, "a key resting for model-a still serves model-b")
        #expect(await acquire(h, excluding: [2]) == 1, "and requests that name no model")
        let state = await h.coordinator.runtimeStates(pool: 1)[1]
        #expect(state?.coolingUntil == nil, "the key as a whole is not cooling")
        #expect(state?.modelCoolingUntil.keys.sorted() == ["model-a"], "it rests for model-a, and shows so")
        await h.coordinator.report(.rateLimited(cooldown: 10, model: "model-a"), key: 2, pool: 1)
        let result = await h.coordinator.acquireKey(pool: 1, excluding: [], model: "model-a")
        guard case .unavailable(let wait) = result else { Issue.record("expected unavailable, got \(result)"); return }
        #expect(abs(wait - 10) < 0.5, "the soonest key frees for model-a in \(wait) s")
        #expect(await acquire(h, model: "model-b") != nil)
        await h.advance(30)
        var back: Set<Int64> = []
        for _ in 0..<2 {
            if let id = await acquire(h, model: "model-a") { back.insert(id) }
            await h.advance(0.01)
        }
        #expect(back == [1, 2], "the rests end on time")
    }

    /// A per-model quota (a Gemini daily per-model quota) rests the key for that model, not its status as a whole.
    static func modelQuotaRestsOnlyThatModel(_ h: CoordinatorHarness) async {
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2], pacingInterval: 0))
        await h.coordinator.report(.quotaExhausted(cooldown: 3600, reason: "gemini per-model daily quota", model: "gemini-pro"), key: 1, pool: 1)
        await h.coordinator.report(.quotaExhausted(cooldown: 3600, reason: "gemini per-model daily quota", model: "gemini-pro"), key: 2, pool: 1)
        #expect(await acquire(h, model: "gemini-pro") == nil, "no key serves the exhausted model")
        #expect(await acquire(h, model: "gemini-flash") != nil, "every key serves another model")
        let states = await h.coordinator.runtimeStates(pool: 1)
        #expect(states[1]?.quotaExhaustedUntil == nil && states[2]?.quotaExhaustedUntil == nil, "no key is exhausted as a whole")
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [2, 3], pacingInterval: 0, version: 1))
        #expect(await acquire(h, model: "gemini-pro") == 3, "a new key serves the model; a removed key's rests go with it")
        await h.coordinator.syncPool(PoolDefinition(id: 1, keyIDs: [1, 2, 3], pacingInterval: 0, version: 2))
        await h.advance(0.01)
        #expect(await acquire(h, model: "gemini-pro") == 1, "a key added back starts without its old rests")
    }
}
