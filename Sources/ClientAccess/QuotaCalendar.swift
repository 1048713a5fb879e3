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
        let (year, month) = Self.civil(day: day)
        self.month = year * 12 + month - 1
        nextDay = Double(day + 1) * 86_400
        let next = month == 12 ? (year + 1, Int64(1)) : (year, month + 1)
        nextMonth = Double(Self.days(year: next.0, month: next.1)) * 86_400
    }

    /// The year and month (1...12) of a day since the epoch.
    static func civil(day: Int64) -> (year: Int64, month: Int64) {
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month)
    }

    /// Days since the epoch of the first of `month` (1...12) in `year`.
    static func days(year: Int64, month: Int64) -> Int64 {
        let year = month <= 2 ? year - 1 : year
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let shifted = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shifted + 2) / 5
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
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
