import Synchronization

/// One `PoolRateLimitDetector` per pool on this node, safe to share between event loops: the decision stays in the
/// value type, this only keeps one per pool under a lock that is never held across an await.
public final class PoolRateLimitWatch: Sendable {
    private let detectors = Mutex<[Int64: PoolRateLimitDetector]>([:])
    private let rules: PoolRateLimitDetector.Rules

    public init(rules: PoolRateLimitDetector.Rules = .init()) {
        self.rules = rules
    }

    /// See `PoolRateLimitDetector.rateLimited`; a verdict means: `coolPool(pool:seconds:reason:)` now.
    public func rateLimited(
        pool: Int64, key: Int64, cooldown: Double, request: String, poolSize: Int, now: Double
    ) -> PoolRateLimitDetector.Verdict? {
        detectors.withLock { detectors in
            detectors[pool, default: PoolRateLimitDetector(rules: rules)]
                .rateLimited(key: key, cooldown: cooldown, request: request, poolSize: poolSize, now: now)
        }
    }

    public func served(pool: Int64, key: Int64) {
        detectors.withLock { detectors in
            detectors[pool]?.served(key: key)
        }
    }

    /// The pool was removed: forget it.
    public func forget(pool: Int64) {
        _ = detectors.withLock { $0.removeValue(forKey: pool) }
    }
}
