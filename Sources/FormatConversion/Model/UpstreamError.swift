/// An error answer in no provider's shape: the status, what kind of failure, the message, and the retry hint.
public struct UpstreamError: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case invalidRequest
        case authentication
        case permission
        case notFound
        case requestTooLarge
        case rateLimited
        case overloaded
        case server
        /// The upstream could not be reached, or its answer broke off (the proxy's 502).
        case unavailable
        /// No answer in time: the upstream's (504) or, at 408, the client's own request.
        case timeout

        /// The kind an HTTP status implies, when the body says nothing better.
        public init(status: Int) {
            switch status {
            case 401: self = .authentication
            case 403: self = .permission
            case 404: self = .notFound
            case 413: self = .requestTooLarge
            case 429: self = .rateLimited
            case 502: self = .unavailable
            case 503, 529: self = .overloaded
            case 504: self = .timeout
            case 500..<600: self = .server
            default: self = .invalidRequest
            }
        }
    }

    public var status: Int
    public var kind: Kind
    public var message: String
    /// Seconds to wait, from `Retry-After` or the body (Gemini's RetryInfo).
    public var retryAfterSeconds: Int?
    /// A code of the error's own for formats that carry one (OpenAI's `error.code`); nil: the kind's.
    public var code: String?

    public init(status: Int, kind: Kind? = nil, message: String, retryAfterSeconds: Int? = nil, code: String? = nil) {
        self.status = status
        self.kind = kind ?? Kind(status: status)
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
        self.code = code
    }
}
