/// What one load run sends, where, and how hard.
public struct LoadPlan: Sendable, Codable, Equatable {
    public enum Mode: String, Sendable, Codable {
        /// `connections` workers, each sending its next request as soon as the previous one answered: the
        /// throughput ceiling.
        case closed
        /// Requests start on a fixed schedule (`rate` per second) whatever the answers do; latency counts from
        /// the intended start, so a stalled target shows as latency instead of as fewer requests.
        case open
    }

    public var label: String
    public var url: String
    public var method: String
    /// Header name and value pairs, in order.
    public var headers: [[String]]
    public var body: String?
    public var mode: Mode
    /// Closed loop: the number of workers (and connections). Open loop: the most requests in flight at once;
    /// a request due while that many are pending is counted as `dropped`, never silently delayed.
    public var connections: Int
    /// Open loop: requests per second.
    public var rate: Double?
    /// Seconds measured (after `warmup`).
    public var duration: Double
    /// Seconds of load sent first and not measured: connections open, caches warm.
    public var warmup: Double
    /// Read bodies chunk by chunk and measure time to first byte and the gaps between chunks.
    public var stream: Bool
    /// Seconds before one request counts as a `timeout` error.
    public var timeout: Double
    /// Closed loop: each worker sends at least this many requests, even past `duration` (nil: none). Lets a short
    /// run count on every worker having sent, however late a busy machine starts it.
    public var minimumRequestsPerConnection: Int?

    public init(
        label: String, url: String, method: String = "POST", headers: [[String]] = [], body: String? = nil, mode: Mode = .closed,
        connections: Int = 16, rate: Double? = nil, duration: Double = 10, warmup: Double = 1, stream: Bool = false, timeout: Double = 30,
        minimumRequestsPerConnection: Int? = nil
    ) {
        self.label = label
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.mode = mode
        self.connections = connections
        self.rate = rate
        self.duration = duration
        self.warmup = warmup
        self.stream = stream
        self.timeout = timeout
        self.minimumRequestsPerConnection = minimumRequestsPerConnection
    }

    /// Why this plan cannot run, or nil when it can.
    public var problem: String? {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { return "url must start with http:// or https://, got '\(url)'" }
        guard connections >= 1 else { return "connections must be at least 1" }
        guard duration > 0 else { return "duration must be positive" }
        guard warmup >= 0 else { return "warmup cannot be negative" }
        guard timeout > 0 else { return "timeout must be positive" }
        if mode == .open {
            guard let rate, rate > 0 else { return "open-loop mode needs a positive rate (requests per second)" }
        }
        for pair in headers where pair.count != 2 { return "each header is a [name, value] pair, got \(pair)" }
        return nil
    }
}
