/// What one upstream answer means for the request and for the key that made it.
public enum UpstreamVerdict: Equatable, Sendable {
    /// Send it to the client (2xx, 3xx, and 4xx that are the request's fault, not the key's).
    case deliver
    /// 429: cool the key down, rotate to another; does not spend the retry budget.
    case rateLimited
    /// 401/403: the key was refused; quarantine it, rotate; does not spend the retry budget.
    case keyRejected
    /// 500/502/503/504: try again on another key, within `MAX_RETRIES`.
    case retryableFailure

    public init(status: Int) {
        switch status {
        case 429: self = .rateLimited
        case 401, 403: self = .keyRejected
        case 500, 502, 503, 504: self = .retryableFailure
        default: self = .deliver
        }
    }
}
