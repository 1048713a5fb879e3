/// Notices an account- or IP-wide rate limit: when most keys of a pool answer rate-limited within a short window,
/// and the answers came from more than one request (a single request cannot bench the pool), the pool should rest
/// as a whole until the reset (`KeyCoordinator.coolPool`) instead of its keys one by one. One per pool and node;
/// memory is bounded by the pool's size (one entry per key).
public struct PoolRateLimitDetector: Sendable {
    public struct Rules: Sendable, Equatable {
        /// Seconds within which the rate-limited answers must fall.
        public var window: Double
        /// Share of the pool's keys that must have answered rate-limited (more than this).
        public var share: Double
        /// Fewest distinct keys: a pool of one key is never cooled as a pool (the key's cooldown does it).
        public var minimumKeys: Int
        /// Fewest distinct requests the answers came from.
        public var minimumRequests: Int

        public init(window: Double = 10, share: Double = 0.5, minimumKeys: Int = 2, minimumRequests: Int = 2) {
            self.window = window
            self.share = share
            self.minimumKeys = minimumKeys
            self.minimumRequests = minimumRequests
        }
    }

    /// The pool should rest `seconds` (the median of the keys' resets) for `reason`.
    public struct Verdict: Sendable, Equatable {
        public var seconds: Double
        public var reason: String
    }

    private struct Sighting: Sendable {
        var at: Double
        var resetAt: Double
        var request: String
    }

    public let rules: Rules
    private var sightings: [Int64: Sighting] = [:]

    public init(rules: Rules = Rules()) {
        self.rules = rules
    }

    /// A key of the pool answered rate-limited.
    /// - Parameters:
    ///   - cooldown: the seconds the key was cooled for (its reset, or the default).
    ///   - request: the request's id.
    ///   - poolSize: usable keys in the pool now.
    ///   - now: seconds on any monotonic or wall clock, the same for every call.
    /// - Returns: a verdict once most keys are rate limited; the sightings are then cleared, so one episode gives one.
    public mutating func rateLimited(key: Int64, cooldown: Double, request: String, poolSize: Int, now: Double) -> Verdict? {
        sightings = sightings.filter { now - $0.value.at <= rules.window }
        sightings[key] = Sighting(at: now, resetAt: now + max(cooldown, 0), request: request)
        let keys = sightings.count
        guard keys >= rules.minimumKeys, Double(keys) > rules.share * Double(max(poolSize, 1)),
            Set(sightings.values.map(\.request)).count >= rules.minimumRequests
        else { return nil }
        let waits = sightings.values.map { max($0.resetAt - now, 0) }.sorted()
        let median = waits[waits.count / 2]
        sightings.removeAll(keepingCapacity: true)
        return Verdict(seconds: median, reason: "\(keys) of \(poolSize) keys rate limited within \(Int(rules.window)) s")
    }

    /// A key served: it is not limited (any more).
    public mutating func served(key: Int64) {
        sightings[key] = nil
    }

    /// Keys seen rate-limited in the current window (for tests and admin views).
    public var rateLimitedKeys: Int { sightings.count }
}
