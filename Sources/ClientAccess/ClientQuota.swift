import NIOCore

/// Enforces client keys' limits across the fleet: in memory on one node, in one atomic Redis step per request in
/// enterprise mode (the key's own hash tag `{ck:<id>}`). Both implementations pass one behaviour suite.
///
/// A request is admitted at most once, before anything goes upstream: it takes a request slot in each request window
/// (rolling 60 s, UTC day, UTC month), a concurrency lease that expires unless renewed, and a token reservation in each
/// token window. Its end settles the reservation to the tokens really used and frees the lease; `release` undoes the
/// whole admission (the pool had no key: nothing went upstream).
public protocol ClientQuota: Sendable {
    /// Answered at once where no wait is needed (in memory); nil where it is (Redis), and the caller then uses
    /// `admit(_:on:)`.
    func admitImmediately(_ request: QuotaRequest) -> QuotaDecision?
    /// The future completes on `eventLoop`.
    func admit(_ request: QuotaRequest, on eventLoop: any EventLoop) -> EventLoopFuture<QuotaDecision>
    /// The request ended: its tokens replace its reservation, its lease ends.
    func settle(_ ticket: QuotaTicket, usedTokens: Int64, on eventLoop: any EventLoop)
    /// The request was not served after all (the pool refused it): everything the admission took is given back.
    func release(_ ticket: QuotaTicket, on eventLoop: any EventLoop)
    /// A long stream keeps its concurrency lease.
    func renew(_ ticket: QuotaTicket, on eventLoop: any EventLoop)
    /// Each configured limit's live state, for the admin view (today's and this month's counts beside the limits).
    func states(clientKey: Int64, limits: ClientKeyLimits) async -> [LimitState]
}

/// What one request asks of its client key's limits.
public struct QuotaRequest: Sendable, Equatable {
    public var clientKey: Int64
    public var limits: ClientKeyLimits
    /// Tokens reserved until the answer says what was used: the request's max output tokens (or the config's default)
    /// plus an estimate of its input. 0 when the key has no token limit.
    public var reservedTokens: Int64
    /// Unique per request (its request id): names its concurrency lease.
    public var lease: String

    public init(clientKey: Int64, limits: ClientKeyLimits, reservedTokens: Int64, lease: String) {
        self.clientKey = clientKey
        self.limits = limits
        self.reservedTokens = reservedTokens
        self.lease = lease
    }
}

/// An admitted request's claim on its key's limits, handed back to settle, release or renew it.
public struct QuotaTicket: Sendable, Equatable {
    public var request: QuotaRequest
    /// Unix seconds (the quota's clock) at admission: the day and month windows its counts went into.
    public var admittedAt: Double
    /// The in-memory quota's number for this admission (increasing in admission order), by which it finds what the
    /// admission took; 0 from Redis, which goes by `request.lease`.
    public var serial: UInt64

    public init(request: QuotaRequest, admittedAt: Double, serial: UInt64 = 0) {
        self.request = request
        self.admittedAt = admittedAt
        self.serial = serial
    }

    /// Whether settling changes anything: a key without concurrency or token limits keeps its request counts as they
    /// are, so its settle is skipped (no lock, no call). A release always gives its counts back.
    public var settleChangesSomething: Bool {
        request.limits.maxConcurrent != nil || request.limits.limitsTokens
    }
}

public enum QuotaDecision: Sendable, Equatable {
    case admitted(QuotaTicket, states: [LimitState])
    /// `limit` (whose value is `value`) is reached; it frees in `retryAfter` seconds (nil where waiting does not help
    /// within reason, e.g. a month's budget is spent).
    case refused(limit: QuotaLimit, value: Int64, retryAfter: Double?, states: [LimitState])
}

/// A limit's live state: its value, what remains, and in how many seconds the window frees (or resets).
public struct LimitState: Sendable, Equatable {
    public var limit: QuotaLimit
    public var value: Int64
    public var remaining: Int64
    public var resetSeconds: Double

    public init(limit: QuotaLimit, value: Int64, remaining: Int64, resetSeconds: Double) {
        self.limit = limit
        self.value = value
        self.remaining = remaining
        self.resetSeconds = resetSeconds
    }
}

/// A concurrency lease's life: it ends by itself this long after admission (or its last renewal), so a node that died
/// mid-request frees its slots; the relay renews a longer stream's lease every `renewEvery` seconds.
public enum QuotaLease {
    public static let seconds: Double = 30
    public static let renewEvery: Double = 10
}
