import RotatorCore
import UpstreamProviders

/// An answer the proxy itself gives the client when no upstream answer should go through, rendered in the client
/// format's error shape.
public struct ProxyFailure: Sendable, Equatable, Error {
    public var status: Int
    public var kind: ClientErrorShape.Kind
    public var message: String
    /// Seconds for a `Retry-After` header, when waiting helps.
    public var retryAfter: Int?

    public init(status: Int, kind: ClientErrorShape.Kind, message: String, retryAfter: Int? = nil) {
        self.status = status
        self.kind = kind
        self.message = message
        self.retryAfter = retryAfter
    }
}
