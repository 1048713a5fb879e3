/// What goes back to the client for one non-streamed answer (or an error), in the client's format.
public struct ClientAnswer: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    /// `Retry-After` for the client: the upstream's header as it was, or seconds from the upstream's body.
    public var retryAfter: String?
    /// Tokens the answer reported, for the key's usage counters.
    public var usage: TokenUsage?
    public var dropped: DroppedFeatures
    public var contentType: String { "application/json" }

    public init(status: Int, body: [UInt8], retryAfter: String? = nil, usage: TokenUsage? = nil, dropped: DroppedFeatures = DroppedFeatures()) {
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
        self.usage = usage
        self.dropped = dropped
    }
}
