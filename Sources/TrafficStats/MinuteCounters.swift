/// What one config's requests did in one minute, on one node or summed over the fleet.
public struct MinuteCounters: Sendable, Equatable {
    /// Client requests answered (any status).
    public var requests: Int64 = 0
    /// Upstream attempts that failed: connect errors, timeouts, 5xx, answers that broke off.
    public var upstreamErrors: Int64 = 0
    /// Upstream 429 answers.
    public var rateLimited: Int64 = 0
    /// Answers with status 400 or more that reached the client.
    public var clientErrors: Int64 = 0
    /// Added latency samples per `LatencyHistogram` bucket (`LatencyHistogram.bucketCount` values).
    public var latency: [UInt32]

    public init(requests: Int64 = 0, upstreamErrors: Int64 = 0, rateLimited: Int64 = 0, clientErrors: Int64 = 0, latency: [UInt32]? = nil) {
        self.requests = requests
        self.upstreamErrors = upstreamErrors
        self.rateLimited = rateLimited
        self.clientErrors = clientErrors
        self.latency = latency ?? Array(repeating: 0, count: LatencyHistogram.bucketCount)
    }

    public var isEmpty: Bool {
        requests == 0 && upstreamErrors == 0 && rateLimited == 0 && clientErrors == 0 && latency.allSatisfy { $0 == 0 }
    }

    public var medianAddedLatencyMilliseconds: Double? { LatencyHistogram.medianMilliseconds(latency) }

    public mutating func add(_ other: MinuteCounters) {
        requests += other.requests
        upstreamErrors += other.upstreamErrors
        rateLimited += other.rateLimited
        clientErrors += other.clientErrors
        for index in latency.indices where index < other.latency.count { latency[index] &+= other.latency[index] }
    }

    /// `self - other`, field by field (what happened since `other` was taken).
    public func subtracting(_ other: MinuteCounters) -> MinuteCounters {
        var difference = self
        difference.requests -= other.requests
        difference.upstreamErrors -= other.upstreamErrors
        difference.rateLimited -= other.rateLimited
        difference.clientErrors -= other.clientErrors
        for index in difference.latency.indices where index < other.latency.count { difference.latency[index] &-= other.latency[index] }
        return difference
    }
}
