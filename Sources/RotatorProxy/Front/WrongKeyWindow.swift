/// The wrong proxy keys counted for one slot of `WrongKeyThrottle` in the current window: the decision, as a value
/// packed into one 64-bit word (window start in seconds, count), so a slot is updated with one compare-and-swap.
public struct WrongKeyWindow: Sendable, Equatable {
    /// Seconds on the throttle's clock when the window opened.
    public var start: UInt32
    public var count: UInt32

    public init(start: UInt32 = 0, count: UInt32 = 0) {
        self.start = start
        self.count = count
    }

    public init(packed: UInt64) {
        self.init(start: UInt32(truncatingIfNeeded: packed >> 32), count: UInt32(truncatingIfNeeded: packed))
    }

    public var packed: UInt64 { UInt64(start) << 32 | UInt64(count) }

    /// One more wrong key at `now`: a window that has run out starts afresh.
    public func counting(now: UInt32, window: UInt32) -> WrongKeyWindow {
        now &- start >= window || count == 0 ? WrongKeyWindow(start: now, count: 1) : WrongKeyWindow(start: start, count: count &+ 1)
    }

    /// Seconds until requests are heard again, or nil when they are now: refused once `limit` wrong keys came
    /// within the window, until the window ends.
    public func retryAfter(now: UInt32, limit: UInt32, window: UInt32) -> UInt32? {
        guard count >= limit, now &- start < window else { return nil }
        return max(window - (now &- start), 1)
    }
}
