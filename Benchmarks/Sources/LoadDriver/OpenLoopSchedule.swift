/// The intended start times of an open-loop run: request `i` is due `i / rate` seconds after the start.
/// Computed from the index (not by adding intervals) so rounding never drifts over a long run.
public struct OpenLoopSchedule: Sendable, Equatable {
    public let rate: Double
    public let duration: Duration

    public init(rate: Double, duration: Duration) {
        self.rate = rate
        self.duration = duration
    }

    /// Offset from the start at which request `index` is due, or nil once past the end of the run.
    public func offset(of index: Int) -> Duration? {
        let offset = Duration.nanoseconds(Int64((Double(index) / rate * 1e9).rounded()))
        return offset < duration ? offset : nil
    }

    /// How many requests the run sends in all.
    public var count: Int {
        var low = 0
        var high = Int((rate * Double(duration.components.seconds + 1)).rounded(.up)) + 1
        while low < high {
            let middle = (low + high) / 2
            if offset(of: middle) == nil { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
