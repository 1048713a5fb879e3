/// Everything one run measured; encodes to the driver's JSON output (snake_case keys).
public struct LoadResult: Sendable, Codable, Equatable {
    public var plan: LoadPlan
    /// Seconds from the first measured start to the last answer.
    public var elapsed: Double
    /// Requests started in the measured window (answered, failed or dropped).
    public var requests: Int
    /// Answers with a 2xx status.
    public var succeeded: Int
    /// Answers (any status) per second of `elapsed`.
    public var throughput: Double
    /// Start (intended start in open loop) to last body byte, every answered request.
    public var latency: LatencySummary
    /// Answer counts by HTTP status.
    public var statuses: [String: Int]
    /// Requests that got no HTTP answer, by cause (timeout, connect, closed, ...).
    public var errors: [String: Int]
    /// Open loop: requests that were due while `connections` were already in flight.
    public var dropped: Int
    /// Streams: start to first body byte, and gaps between body chunks.
    public var ttfb: LatencySummary?
    public var chunkGap: LatencySummary?
    public var chunksPerResponse: Double?
    public var retryAfter: RetryAfterSummary?
    public var timeline: [TimelinePoint]

    /// Requests that did not end in a 2xx answer.
    public var failed: Int { requests - succeeded }

    /// Share of requests answered with 2xx, 0...1.
    public var successRatio: Double { requests == 0 ? 0 : Double(succeeded) / Double(requests) }

    public func count(status: Int) -> Int { statuses[String(status)] ?? 0 }

    /// Answers by status and failures by cause, in one table.
    public var outcomes: [String: Int] { statuses.merging(errors) { $0 + $1 } }
}
