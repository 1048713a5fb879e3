import NIOCore
import RotatorCore
import Synchronization

import Foundation

/// Key coordination inside one process: each pool is a min-heap of "next usable time" per key
/// (the same virtual clock the Redis script keeps), guarded by one mutex that is never held across an await.
public final class InMemoryKeyCoordinator: KeyCoordinator {
    private struct KeyState {
        var consecutiveRejections = 0
        var coolingUntil: Double?
        var quotaExhaustedUntil: Double?
        var isInvalid = false
    }

    /// A class so the heap is mutated in place (a struct copied out of the dictionary would copy it: O(n)).
    private final class Pool {
        var pacingInterval: Double
        var schedule = IndexedMinHeap()
        var keys: [Int64: KeyState] = [:]
        var cooling: PoolCooling?
        /// Rests for one model only: model -> key -> until. Expired entries go when the model is next asked for.
        var modelRests: [String: [Int64: Double]] = [:]

        init(pacingInterval: Double) {
            self.pacingInterval = pacingInterval
        }
    }

    private struct State {
        var pools: [Int64: Pool] = [:]
        var usage: [Int64: KeyUsageDelta] = [:]

        mutating func recordUse(of key: Int64, at time: Double) {
            add(KeyUsageDelta(keyID: key, requests: 1, lastUsedAt: Date(timeIntervalSince1970: time)))
        }

        mutating func recordError(of key: Int64, _ message: String) {
            add(KeyUsageDelta(keyID: key, errors: 1, lastError: message))
        }

        mutating func add(_ delta: KeyUsageDelta) {
            usage[delta.keyID, default: KeyUsageDelta(keyID: delta.keyID)].merge(delta)
        }
    }

    private let state = Mutex(State())
    private let clock: any CoordinatorClock
    private let policy: CoordinationPolicy

    public init(clock: any CoordinatorClock = SystemClock(), policy: CoordinationPolicy = .standard) {
        self.clock = clock
        self.policy = policy
    }

    public func syncPool(_ definition: PoolDefinition) async {
        state.withLock { state in
            let pool = state.pools[definition.id] ?? Pool(pacingInterval: definition.pacingInterval)
            pool.pacingInterval = definition.pacingInterval
            let wanted = Set(definition.keyIDs)
            for id in pool.keys.keys where !wanted.contains(id) {
                pool.keys[id] = nil
                pool.schedule.remove(id)
                for model in pool.modelRests.keys { pool.modelRests[model]?[id] = nil }
            }
            for id in definition.keyIDs where pool.keys[id] == nil {
                pool.keys[id] = KeyState()
                // Score 0: a new key is the least recently used of all.
                pool.schedule.set(id, score: 0)
            }
            state.pools[definition.id] = pool
        }
    }

    public func removePool(id: Int64) async {
        state.withLock { state in
            if let pool = state.pools.removeValue(forKey: id) {
                for key in pool.keys.keys { state.usage[key] = nil }
            }
        }
    }

    public func acquireKey(pool poolID: Int64, excluding excluded: Set<Int64>, model: String?) async -> KeyAcquisition {
        acquireKeyNow(pool: poolID, excluding: excluded, model: model)
    }

    public func acquireKey(pool: Int64, excluding excluded: Set<Int64>, model: String?, on eventLoop: any EventLoop) -> EventLoopFuture<KeyAcquisition> {
        eventLoop.makeSucceededFuture(acquireKeyNow(pool: pool, excluding: excluded, model: model))
    }

    public func report(_ outcome: KeyOutcome, key: Int64, pool: Int64, on eventLoop: any EventLoop) -> EventLoopFuture<OutcomeEffect> {
        eventLoop.makeSucceededFuture(reportNow(outcome, key: key, pool: pool))
    }

    public func acquireKeyImmediately(pool: Int64, excluding excluded: Set<Int64>, model: String?) -> KeyAcquisition? {
        acquireKeyNow(pool: pool, excluding: excluded, model: model)
    }

    public func reportImmediately(_ outcome: KeyOutcome, key: Int64, pool: Int64) -> OutcomeEffect? {
        reportNow(outcome, key: key, pool: pool)
    }

    /// The synchronous selection: one lock, never held across a wait.
    public func acquireKeyNow(pool poolID: Int64, excluding excluded: Set<Int64>, model: String? = nil) -> KeyAcquisition {
        let now = clock.now()
        return state.withLock { state in
            guard let pool = state.pools[poolID], !pool.schedule.isEmpty else { return .empty }
            if let cooling = pool.cooling, cooling.until > now { return .unavailable(retryAfter: cooling.until - now) }
            // Keys resting for this model, expired rests dropped on the way.
            var resting: [Int64: Double] = [:]
            if let model, let rests = pool.modelRests[model] {
                resting = rests.filter { $0.value > now }
                pool.modelRests[model] = resting.isEmpty ? nil : resting
            }
            // Set excluded and resting keys aside so the heap's minimum is the best key this request may still use;
            // each counts from when it frees for this request (its score, or its model rest if later).
            var setAside: [(id: Int64, score: Double)] = []
            for id in excluded.union(resting.keys) {
                if let score = pool.schedule.remove(id) { setAside.append((id, score)) }
            }
            defer {
                for (id, score) in setAside { pool.schedule.set(id, score: score) }
            }
            guard let best = pool.schedule.min, best.score <= now else {
                // Nothing this request may use now; report when the pool's soonest key (excluded or not) frees.
                let frees = setAside.map { max($0.score, resting[$0.id] ?? 0) }
                let soonest = ([pool.schedule.min?.score] + frees).compactMap { $0 }.min() ?? now
                return .unavailable(retryAfter: max(soonest - now, 0))
            }
            pool.schedule.set(best.id, score: max(best.score, now) + pool.pacingInterval)
            state.recordUse(of: best.id, at: now)
            return .key(best.id)
        }
    }

    public func unpick(key: Int64, pool: Int64) async {
        unpickNow(key: key, pool: pool)
    }

    public func unpick(key: Int64, pool: Int64, on eventLoop: any EventLoop) {
        unpickNow(key: key, pool: pool)
    }

    /// The pick's effects undone: the key's score back by the pacing interval (not before now, nor into its rest), its
    /// request count since the last drain one lower.
    public func unpickNow(key: Int64, pool poolID: Int64) {
        let now = clock.now()
        state.withLock { state in
            guard let pool = state.pools[poolID], let keyState = pool.keys[key], let score = pool.schedule.score(of: key) else { return }
            let back = max(score - pool.pacingInterval, now, keyState.coolingUntil ?? 0)
            if back < score { pool.schedule.set(key, score: back) }
            if let requests = state.usage[key]?.requests, requests > 0 { state.usage[key]?.requests = requests - 1 }
        }
    }

    @discardableResult
    public func report(_ outcome: KeyOutcome, key: Int64, pool poolID: Int64) async -> OutcomeEffect {
        reportNow(outcome, key: key, pool: poolID)
    }

    @discardableResult
    public func reportNow(_ outcome: KeyOutcome, key: Int64, pool poolID: Int64) -> OutcomeEffect {
        let now = clock.now()
        return state.withLock { state in
            guard let pool = state.pools[poolID], var keyState = pool.keys[key], !keyState.isInvalid else { return .none }
            let effect: OutcomeEffect
            switch outcome {
            case .success:
                keyState.consecutiveRejections = 0
                keyState.quotaExhaustedUntil = nil
                effect = .none
            case .rateLimited(let cooldown, let model?), .quotaExhausted(let cooldown, _, let model?):
                let until = now + min(max(cooldown, policy.minimumCooldown), policy.maximumCooldown)
                Self.rest(pool, key: key, model: model, until: until, now: now)
                if case .quotaExhausted(_, let reason, _) = outcome { state.recordError(of: key, reason) } else {
                    state.recordError(of: key, "429 rate limited by upstream for \(model)")
                }
                effect = .cooledDown(until: until)
            case .rateLimited(let cooldown, nil):
                let until = now + min(max(cooldown, policy.minimumCooldown), policy.maximumCooldown)
                keyState.coolingUntil = max(keyState.coolingUntil ?? 0, until)
                pool.schedule.set(key, score: max(pool.schedule.score(of: key) ?? 0, until))
                state.recordError(of: key, "429 rate limited by upstream")
                effect = .cooledDown(until: until)
            case .quotaExhausted(let cooldown, let reason, nil):
                let until = now + min(max(cooldown, policy.minimumCooldown), policy.maximumCooldown)
                keyState.coolingUntil = max(keyState.coolingUntil ?? 0, until)
                keyState.quotaExhaustedUntil = max(keyState.quotaExhaustedUntil ?? 0, until)
                pool.schedule.set(key, score: max(pool.schedule.score(of: key) ?? 0, until))
                state.recordError(of: key, reason)
                effect = .cooledDown(until: until)
            case .rejected(let reason):
                keyState.consecutiveRejections += 1
                state.recordError(of: key, reason)
                if keyState.consecutiveRejections >= policy.rejectionsBeforeInvalid {
                    keyState.isInvalid = true
                    keyState.coolingUntil = nil
                    pool.schedule.remove(key)
                    effect = .invalidated
                } else {
                    let until = now + policy.quarantine(afterRejection: keyState.consecutiveRejections)
                    keyState.coolingUntil = until
                    pool.schedule.set(key, score: max(pool.schedule.score(of: key) ?? 0, until))
                    effect = .quarantined(until: until)
                }
            case .upstreamFailure(let reason):
                state.recordError(of: key, reason)
                effect = .none
            }
            pool.keys[key] = keyState
            return effect
        }
    }

    /// Models a pool remembers rests for; past this, expired rests are swept first and a new model is not recorded
    /// (its requests then meet the upstream's 429 themselves, each trying at most a few keys).
    static let modelRestLimit = 256

    private static func rest(_ pool: Pool, key: Int64, model: String, until: Double, now: Double) {
        if pool.modelRests[model] == nil, pool.modelRests.count >= modelRestLimit {
            pool.modelRests = pool.modelRests.compactMapValues { rests in
                let live = rests.filter { $0.value > now }
                return live.isEmpty ? nil : live
            }
            guard pool.modelRests.count < modelRestLimit else { return }
        }
        pool.modelRests[model, default: [:]][key] = max(pool.modelRests[model]?[key] ?? 0, until)
    }

    public func runtimeStates(pool poolID: Int64) async -> [Int64: KeyRuntimeState] {
        let now = clock.now()
        return state.withLock { state in
            guard let pool = state.pools[poolID] else { return [:] }
            var result: [Int64: KeyRuntimeState] = [:]
            var resting: [Int64: [String: Double]] = [:]
            for (model, rests) in pool.modelRests {
                for (id, until) in rests where until > now { resting[id, default: [:]][model] = until }
            }
            for (id, key) in pool.keys {
                let cooling = key.coolingUntil.flatMap { $0 > now ? $0 : nil }
                let exhausted = key.quotaExhaustedUntil.flatMap { $0 > now ? $0 : nil }
                result[id] = KeyRuntimeState(
                    coolingUntil: cooling, consecutiveRejections: key.consecutiveRejections, quotaExhaustedUntil: exhausted,
                    modelCoolingUntil: resting[id] ?? [:]
                )
            }
            return result
        }
    }

    public func drainUsage() async -> [KeyUsageDelta] {
        state.withLock { state in
            let drained = Array(state.usage.values)
            state.usage.removeAll(keepingCapacity: true)
            return drained
        }
    }

    public func recordTokens(key: Int64, input: Int64, output: Int64) {
        guard input > 0 || output > 0 else { return }
        state.withLock { $0.add(KeyUsageDelta(keyID: key, inputTokens: input, outputTokens: output)) }
    }

    @discardableResult
    public func coolPool(pool poolID: Int64, seconds: Double, reason: String) async -> PoolCooling? {
        let now = clock.now()
        return state.withLock { state in
            guard let pool = state.pools[poolID] else { return nil }
            let until = now + min(max(seconds, policy.minimumCooldown), policy.maximumCooldown)
            if let current = pool.cooling, current.until >= until, current.until > now { return current }
            pool.cooling = PoolCooling(until: until, reason: reason)
            return pool.cooling
        }
    }

    public func poolCooling(pool poolID: Int64) async -> PoolCooling? {
        let now = clock.now()
        return state.withLock { state in
            guard let cooling = state.pools[poolID]?.cooling, cooling.until > now else { return nil }
            return cooling
        }
    }
}
