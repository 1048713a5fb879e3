/// A classic token bucket: refills continuously at `rate` per second up to `capacity`, starts full.
struct TokenBucket: Sendable {
    let rate: Double
    let capacity: Double
    private var tokens: Double
    private var lastRefill: ContinuousClock.Instant

    init(rate: Double, now: ContinuousClock.Instant) {
        self.rate = rate
        self.capacity = max(1, rate)
        self.tokens = capacity
        self.lastRefill = now
    }

    /// Takes a token, or says how many whole seconds (at least 1) until one is available.
    mutating func take(now: ContinuousClock.Instant) -> Int? {
        let elapsed = (now - lastRefill).seconds
        if elapsed > 0 {
            tokens = min(capacity, tokens + elapsed * rate)
            lastRefill = now
        }
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        guard rate > 0 else { return Int.max }
        // Round up: a client told "0" would retry at once and be refused again.
        return max(1, Int(((1 - tokens) / rate).rounded(.up)))
    }
}
