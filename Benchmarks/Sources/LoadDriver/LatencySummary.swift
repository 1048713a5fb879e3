import Histogram

/// Percentiles of a histogram of microseconds, in milliseconds.
public struct LatencySummary: Sendable, Codable, Equatable {
    public var count: UInt64
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var mean: Double

    public init(_ histogram: Histogram<UInt64>) {
        count = histogram.totalCount
        func milliseconds(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        guard count > 0 else {
            p50 = 0; p90 = 0; p99 = 0; p999 = 0; max = 0; mean = 0
            return
        }
        p50 = milliseconds(histogram.valueAtPercentile(50))
        p90 = milliseconds(histogram.valueAtPercentile(90))
        p99 = milliseconds(histogram.valueAtPercentile(99))
        p999 = milliseconds(histogram.valueAtPercentile(99.9))
        max = milliseconds(histogram.max)
        mean = histogram.mean / 1000
    }
}

/// Retry-After values (seconds) seen on 429 answers.
public struct RetryAfterSummary: Sendable, Codable, Equatable {
    public var count: Int
    public var missing: Int
    public var min: Int?
    public var max: Int?

    public init(count: Int, missing: Int, min: Int? = nil, max: Int? = nil) {
        self.count = count
        self.missing = missing
        self.min = min
        self.max = max
    }
}

/// One second of a run, by intended start time: what a chart of latency over time plots.
public struct TimelinePoint: Sendable, Codable, Equatable {
    public var second: Int
    public var requests: Int
    /// Answers outside 2xx plus transport errors and drops.
    public var errors: Int
    public var p50: Double
    public var p99: Double
    public var statuses: [String: Int]
    /// Retry-After seconds of the 429 answers started in this second.
    public var retryAfterMin: Int?
    public var retryAfterMax: Int?
}
