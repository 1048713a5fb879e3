import Foundation
import NIOCore

/// The wall time read off the event loop's clock: a `Date` and the `NIODeadline` of one instant, so the request path
/// reads a single clock (the loop's, which `EmbeddedEventLoop` tests advance) even where it needs a date (reset times
/// in headers, the pool's rest). The anchor is taken once per service; the loop's clock is monotonic, so a step of the
/// system clock after it is not followed (reset hints are whole seconds, and a node restart re-anchors).
public struct WallClock: Sendable {
    public let anchorDate: Date
    public let anchorDeadline: NIODeadline

    public init(anchorDate: Date, anchorDeadline: NIODeadline) {
        self.anchorDate = anchorDate
        self.anchorDeadline = anchorDeadline
    }

    /// Now, on the system's clocks.
    public static func system() -> WallClock {
        WallClock(anchorDate: Date(), anchorDeadline: .now())
    }

    public func date(at deadline: NIODeadline) -> Date {
        anchorDate.addingTimeInterval(Double((deadline - anchorDeadline).nanoseconds) / 1e9)
    }
}
