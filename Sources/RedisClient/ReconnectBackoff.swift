/// Exponential backoff with jitter between reconnect attempts.
public struct ReconnectBackoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(50), maximum: Duration = .seconds(2)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The wait before reconnect attempt `attempt` (0-based): `initial * 2^attempt` capped at `maximum`,
    /// then a random value in its upper half so that many nodes do not reconnect in lockstep.
    public func delay(attempt: Int, jitter: Double = Double.random(in: 0...1)) -> Duration {
        let factor = 1 << min(max(attempt, 0), 30)
        var base = initial * factor
        if base > maximum || base < .zero { base = maximum }
        return base / 2 + (base / 2) * min(max(jitter, 0), 1)
    }
}
