import NIOCore
import RotatorCore

import Foundation

/// Decides which key of a pool serves the next request and remembers what happened to each key.
/// Lightweight mode keeps this state in memory; enterprise mode in Redis. Both pass one behaviour suite.
public protocol KeyCoordinator: Sendable {
    /// Makes the pool hold exactly these keys, keeping the state of keys it already had.
    func syncPool(_ pool: PoolDefinition) async
    func removePool(id: Int64) async
    /// Hands out the least recently used usable key, skipping `excluded` ones and, when the request names a `model`,
    /// keys resting for that model (a per-model limit of the provider; see `KeyOutcome`). A nil model: any key that is
    /// not resting as a whole.
    func acquireKey(pool: Int64, excluding excluded: Set<Int64>, model: String?) async -> KeyAcquisition
    /// Reports how the upstream answered a key; returns what the coordinator did about it.
    @discardableResult
    func report(_ outcome: KeyOutcome, key: Int64, pool: Int64) async -> OutcomeEffect
    /// Undoes an `acquireKey` whose key went unused (the client key's quota refused the request it was picked for): the
    /// key's next use moves back by the pool's pacing interval (never before now, nor into a rest it was given since) and
    /// its request count since the last drain drops by one (never below 0).
    func unpick(key: Int64, pool: Int64) async
    /// Live cooldown state of a pool's keys, for admin views.
    func runtimeStates(pool: Int64) async -> [Int64: KeyRuntimeState]
    /// Usage counted since the last drain, to be added to the store.
    func drainUsage() async -> [KeyUsageDelta]
    /// Adds the tokens an answer served by `key` reported to its usage (drained with the rest). Synchronous and
    /// node-local in every implementation: each node adds what it counted to the store, so no round trip is needed.
    func recordTokens(key: Int64, input: Int64, output: Int64)

    /// `acquireKey` for a caller on an event loop (the proxy): the future completes on `eventLoop`, without a Swift
    /// task where the implementation can (in memory: at once; Redis: on a connection owned by that loop).
    func acquireKey(pool: Int64, excluding excluded: Set<Int64>, model: String?, on eventLoop: any EventLoop) -> EventLoopFuture<KeyAcquisition>
    /// `report` for a caller on an event loop; same contract as `acquireKey(pool:excluding:on:)`.
    func report(_ outcome: KeyOutcome, key: Int64, pool: Int64, on eventLoop: any EventLoop) -> EventLoopFuture<OutcomeEffect>
    /// `unpick` for a caller on an event loop, not waited for (in memory: done at once; Redis: on that loop's connection).
    func unpick(key: Int64, pool: Int64, on eventLoop: any EventLoop)
    /// `acquireKey` answered at once where the implementation needs no wait (in memory); nil where it does (Redis), and
    /// the caller then uses `acquireKey(pool:excluding:model:on:)`. Spares the proxy a future per request.
    func acquireKeyImmediately(pool: Int64, excluding excluded: Set<Int64>, model: String?) -> KeyAcquisition?
    /// `report` done at once where the implementation needs no wait; nil (and nothing done) where it does.
    func reportImmediately(_ outcome: KeyOutcome, key: Int64, pool: Int64) -> OutcomeEffect?
    /// Rests the whole pool for `seconds` (an account- or IP-wide rate limit): until then `acquireKey` answers
    /// `.unavailable(retryAfter:)` with the pool's remaining wait. Returns the pool's cooling state afterwards
    /// (nil when the pool is unknown). A shorter cooling never shortens a longer one already set.
    @discardableResult
    func coolPool(pool: Int64, seconds: Double, reason: String) async -> PoolCooling?
    /// The pool's live cooling, for admin views and metrics; nil when the pool is not cooling.
    func poolCooling(pool: Int64) async -> PoolCooling?
}

extension KeyCoordinator {
    /// A request that names no model (generic configs, admin checks): only whole-key rests apply.
    public func acquireKey(pool: Int64, excluding excluded: Set<Int64>) async -> KeyAcquisition {
        await acquireKey(pool: pool, excluding: excluded, model: nil)
    }

    /// Bridges through a task: correct for any coordinator, but the two built in answer on the loop itself.
    public func acquireKey(pool: Int64, excluding excluded: Set<Int64>, model: String?, on eventLoop: any EventLoop) -> EventLoopFuture<KeyAcquisition> {
        eventLoop.makeFutureWithTask { await self.acquireKey(pool: pool, excluding: excluded, model: model) }
    }

    public func report(_ outcome: KeyOutcome, key: Int64, pool: Int64, on eventLoop: any EventLoop) -> EventLoopFuture<OutcomeEffect> {
        eventLoop.makeFutureWithTask { await self.report(outcome, key: key, pool: pool) }
    }

    /// Through a task: correct for any coordinator (a refusal's rare path); the two built in do it on the loop.
    public func unpick(key: Int64, pool: Int64, on eventLoop: any EventLoop) {
        _ = eventLoop.makeFutureWithTask { await self.unpick(key: key, pool: pool) }
    }

    public func acquireKeyImmediately(pool: Int64, excluding excluded: Set<Int64>, model: String?) -> KeyAcquisition? { nil }

    public func reportImmediately(_ outcome: KeyOutcome, key: Int64, pool: Int64) -> OutcomeEffect? { nil }
}

/// A pool rested as a whole.
public struct PoolCooling: Sendable, Equatable {
    /// Unix seconds (the coordinator's clock) until which no key of the pool is handed out.
    public var until: Double
    public var reason: String

    public init(until: Double, reason: String) {
        self.until = until
        self.reason = reason
    }
}

/// The keys of one config and how each must be paced.
public struct PoolDefinition: Sendable, Equatable {
    public var id: Int64
    public var keyIDs: [Int64]
    /// Seconds a key must rest between two uses (0 = plain least-recently-used).
    public var pacingInterval: Double
    /// The config version this key list comes from: shared state older than this is re-seeded.
    public var version: Int64

    public init(id: Int64, keyIDs: [Int64], pacingInterval: Double, version: Int64 = 0) {
        self.id = id
        self.keyIDs = keyIDs
        self.pacingInterval = pacingInterval
        self.version = version
    }
}

public enum KeyAcquisition: Sendable, Equatable {
    case key(Int64)
    /// No key may serve now; the pool's soonest key (counting excluded ones) frees in `retryAfter` seconds
    /// (0 when only excluded keys are free).
    case unavailable(retryAfter: Double)
    /// The pool has no usable key at all (none configured, all disabled or invalid).
    case empty
}

/// A report's `model`, when set, scopes a rest to (key, model): the provider's limit was per model (OpenAI's rate
/// limits, Gemini quota ids with `PerModel`, Anthropic's per-model-class limits), so the key still serves other models.
/// nil rests the whole key.
public enum KeyOutcome: Sendable, Equatable {
    /// The upstream accepted the key (any answer other than the ones below, 4xx included).
    case success
    /// 429: rest the key (for `model` only, when set) for this long.
    case rateLimited(cooldown: Double, model: String? = nil)
    /// 401/403: the upstream rejected the key.
    case rejected(reason: String)
    /// The key's credit or quota is gone (e.g. OpenAI `insufficient_quota`; for `model` only, when set: a Gemini
    /// per-model daily quota): rest it this long, shown as exhausted when it is the whole key.
    case quotaExhausted(cooldown: Double, reason: String, model: String? = nil)
    /// Connect error, timeout or 5xx: not the key's fault, but counted.
    case upstreamFailure(reason: String)
}

public enum OutcomeEffect: Sendable, Equatable {
    case none
    case cooledDown(until: Double)
    case quarantined(until: Double)
    /// The key was rejected too many times in a row: the caller marks it invalid in the store.
    case invalidated
}

public struct KeyRuntimeState: Sendable, Equatable {
    /// Unix seconds until which the key is cooling or quarantined; nil when usable now.
    public var coolingUntil: Double?
    public var consecutiveRejections: Int
    /// Unix seconds until which the key rests because its quota or credit is gone; nil otherwise.
    public var quotaExhaustedUntil: Double?
    /// Models the key rests for (a per-model limit), and until when (Unix seconds); it serves every other model.
    public var modelCoolingUntil: [String: Double]

    public init(coolingUntil: Double?, consecutiveRejections: Int, quotaExhaustedUntil: Double? = nil, modelCoolingUntil: [String: Double] = [:]) {
        self.coolingUntil = coolingUntil
        self.consecutiveRejections = consecutiveRejections
        self.quotaExhaustedUntil = quotaExhaustedUntil
        self.modelCoolingUntil = modelCoolingUntil
    }
}

/// How the coordinator treats failures; shared by every implementation so they agree.
public struct CoordinationPolicy: Sendable, Equatable {
    /// Rejections (401/403) in a row after which a key is invalid.
    public var rejectionsBeforeInvalid: Int
    /// Quarantine after the n-th rejection in a row (index n-1), before the key is declared invalid.
    public var quarantineSeconds: [Double]
    /// Upper bound on any cooldown, whatever the upstream asked for.
    public var maximumCooldown: Double
    /// Lower bound on a 429 cooldown: a key that just said "too many" is not asked again at once.
    public var minimumCooldown: Double

    public init(
        rejectionsBeforeInvalid: Int = 3, quarantineSeconds: [Double] = [2, 10], maximumCooldown: Double = 86_400, minimumCooldown: Double = 1
    ) {
        self.rejectionsBeforeInvalid = rejectionsBeforeInvalid
        self.quarantineSeconds = quarantineSeconds
        self.maximumCooldown = maximumCooldown
        self.minimumCooldown = minimumCooldown
    }

    public static let standard = CoordinationPolicy()

    public func quarantine(afterRejection count: Int) -> Double {
        guard !quarantineSeconds.isEmpty else { return 0 }
        return quarantineSeconds[min(count, quarantineSeconds.count) - 1]
    }
}

/// Wall-clock seconds; injectable so tests can move time.
public protocol CoordinatorClock: Sendable {
    func now() -> Double
}

public struct SystemClock: CoordinatorClock {
    public init() {}
    public func now() -> Double { Date().timeIntervalSince1970 }
}
