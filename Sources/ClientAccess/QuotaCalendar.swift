import RotatorCore

/// The UTC day and month a moment falls in, as the quota's windows count them; `Resources/client_quota.lua` computes
/// the same numbers with the same arithmetic (days from the civil date, Howard Hinnant's algorithm), so memory and
/// Redis roll over at the same instant.
public struct QuotaCalendar: Sendable, Equatable {
    /// Days since 1970-01-01 (UTC).
    public var day: Int64
    /// Months since year 0 (`year * 12 + month - 1`).
    public var month: Int64
    /// Unix seconds of the next UTC midnight and of the next month's first midnight.
    public var nextDay: Double
    public var nextMonth: Double

    public init(at time: Double) {
        day = Int64((time / 86_400).rounded(.down))
        let date = CivilDate(daysSince1970: day)
        month = date.year * 12 + date.month - 1
        nextDay = Double(day + 1) * 86_400
        let next = date.month == 12 ? CivilDate(year: date.year + 1, month: 1, day: 1) : CivilDate(year: date.year, month: date.month + 1, day: 1)
        nextMonth = Double(next.daysSince1970) * 86_400
    }
}

/// The refusal rules both implementations share: what `retryAfter` a full limit answers.
public enum QuotaRetry {
    /// A slot frees when any request in flight ends, which the quota cannot foresee: the client is told to come back
    /// in a second, or sooner when the soonest lease expires sooner.
    public static let concurrency: Double = 1
    /// A budget that frees further away than this answers no `retryAfter` (waiting does not help within reason).
    public static let longestWait: Double = 86_400

    /// The wait before a calendar window frees, nil beyond `longestWait` (a month's budget spent days before its end).
    public static func calendar(_ seconds: Double) -> Double? {
        seconds <= longestWait ? seconds : nil
    }
}
