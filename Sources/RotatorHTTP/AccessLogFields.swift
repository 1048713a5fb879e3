import Synchronization

/// What a handler learned about a request that the access log line should show
/// (a reference, because the context is copied down the middleware chain).
public final class AccessLogFields: Sendable {
    public struct Values: Sendable {
        public var slug: String?
        public var upstreamStatus: Int?
        public var keyID: Int64?
        public var retries: Int = 0
        /// When the request's context was made (its head arrived): the start of its added latency.
        public var receivedAt = ContinuousClock.now
        /// Time spent waiting for upstream answers (summed over attempts).
        public var upstreamNanoseconds: Int64 = 0
    }

    private let values = Mutex(Values())

    public init() {}

    public func update(_ body: (inout Values) -> Void) {
        values.withLock { body(&$0) }
    }

    public var snapshot: Values {
        values.withLock { $0 }
    }
}
