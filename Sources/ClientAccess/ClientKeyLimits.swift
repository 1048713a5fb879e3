/// A client key's limits. nil (or 0 when given) means no limit. Request counts and concurrency are exact across the
/// fleet; tokens are reserved when a request is admitted and settled from the answer's usage.
public struct ClientKeyLimits: Sendable, Equatable, Hashable {
    /// Requests in any 60 seconds (a rolling window, not calendar minutes).
    public var rpm: Int64?
    /// Tokens in any 60 seconds.
    public var tpm: Int64?
    /// Requests in flight at once.
    public var maxConcurrent: Int64?
    /// Requests per UTC day and per UTC month.
    public var dailyRequests: Int64?
    public var monthlyRequests: Int64?
    /// Tokens (input + output) per UTC day and per UTC month.
    public var dailyTokens: Int64?
    public var monthlyTokens: Int64?

    public init(
        rpm: Int64? = nil, tpm: Int64? = nil, maxConcurrent: Int64? = nil, dailyRequests: Int64? = nil, monthlyRequests: Int64? = nil,
        dailyTokens: Int64? = nil, monthlyTokens: Int64? = nil
    ) {
        self.rpm = Self.normalized(rpm)
        self.tpm = Self.normalized(tpm)
        self.maxConcurrent = Self.normalized(maxConcurrent)
        self.dailyRequests = Self.normalized(dailyRequests)
        self.monthlyRequests = Self.normalized(monthlyRequests)
        self.dailyTokens = Self.normalized(dailyTokens)
        self.monthlyTokens = Self.normalized(monthlyTokens)
    }

    private static func normalized(_ value: Int64?) -> Int64? {
        guard let value, value > 0 else { return nil }
        return value
    }

    /// Each limit the key has, with its value, in `QuotaLimit.allCases` order.
    public var configured: [(limit: QuotaLimit, value: Int64)] {
        QuotaLimit.allCases.compactMap { limit in self[limit].map { (limit, $0) } }
    }

    public subscript(limit: QuotaLimit) -> Int64? {
        switch limit {
        case .rpm: rpm
        case .tpm: tpm
        case .concurrent: maxConcurrent
        case .dailyRequests: dailyRequests
        case .monthlyRequests: monthlyRequests
        case .dailyTokens: dailyTokens
        case .monthlyTokens: monthlyTokens
        }
    }

    public var isEmpty: Bool {
        rpm == nil && tpm == nil && maxConcurrent == nil && dailyRequests == nil && monthlyRequests == nil && dailyTokens == nil && monthlyTokens == nil
    }
    /// Whether any token limit is set: the request's reservation (its max tokens and input estimate) is needed.
    public var limitsTokens: Bool { tpm != nil || dailyTokens != nil || monthlyTokens != nil }
}

/// One of a client key's limits: its JSON name (admin API, refusals) and its `x-ratelimit-*-<suffix>` header suffix.
public enum QuotaLimit: String, Sendable, CaseIterable, Hashable {
    case rpm
    case tpm
    case concurrent = "max_concurrent"
    case dailyRequests = "daily_requests"
    case monthlyRequests = "monthly_requests"
    case dailyTokens = "daily_tokens"
    case monthlyTokens = "monthly_tokens"

    /// Whether the limit counts tokens (reserved, then settled) rather than requests.
    public var countsTokens: Bool { self == .tpm || self == .dailyTokens || self == .monthlyTokens }
}
