import Foundation

/// The attempts of one subject (an address or a user name): the decision both limiters make, and the one the
/// Redis script makes the same way in Lua.
public struct LoginAttemptRecord: Sendable, Equatable {
    public var attempts = 0
    /// Unix seconds before which a new attempt is refused.
    public var lockedUntil: Double = 0
    public var lastAttempt: Double = 0

    public init() {}

    /// Seconds still to wait, or nil when an attempt may be made now.
    public func wait(now: Double) -> Double? {
        lockedUntil > now ? lockedUntil - now : nil
    }

    public func isForgotten(now: Double, policy: LoginThrottlePolicy) -> Bool {
        now - lastAttempt >= policy.memorySeconds && wait(now: now) == nil
    }

    /// Counts one attempt; from the `freeAttempts`-th on, the next has to wait 1, 2, 4, … seconds (capped).
    public mutating func count(now: Double, freeAttempts: Int, policy: LoginThrottlePolicy) {
        if now - lastAttempt >= policy.memorySeconds { attempts = 0 }
        attempts += 1
        lastAttempt = now
        if attempts >= freeAttempts {
            lockedUntil = now + min(policy.maximumLockSeconds, pow(2, Double(attempts - freeAttempts)))
        }
    }
}
