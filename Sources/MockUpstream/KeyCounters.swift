/// What one key has been answered so far. Control endpoints are not counted.
public struct KeyCounters: Sendable, Equatable, Codable {
    public var requests = 0
    /// 2xx answers.
    public var success = 0
    /// 401 answers (revoked or missing key).
    public var unauthorized = 0
    /// 429 answers (bucket, forced, or storm).
    public var rateLimited = 0
    /// 5xx answers.
    public var serverError = 0

    public init() {}

    /// Another key's counts added to these (totals over keys).
    public mutating func add(_ other: KeyCounters) {
        requests += other.requests
        success += other.success
        unauthorized += other.unauthorized
        rateLimited += other.rateLimited
        serverError += other.serverError
    }

    mutating func count(status: Int) {
        requests += 1
        switch status {
        case 200..<300: success += 1
        case 401: unauthorized += 1
        case 429: rateLimited += 1
        case 500..<600: serverError += 1
        default: break
        }
    }
}
