/// The state's verdict on one request, taken under one lock so counting, recording and deciding agree.
struct Admission: Sendable {
    enum Outcome: Sendable, Equatable {
        case serve
        case missingKey
        case revoked
        /// `accountWide` is the storm: every key is refused, and the message says so.
        case rateLimited(retryAfterSeconds: Int, accountWide: Bool)
        /// An injected failure or an `x-mock-status` that is not 401/429.
        case status(Int)
        /// The key's per-model limit for the request's model (`KeyProfile.modelLimits`).
        case modelLimited(model: String, ModelLimit)

        var status: Int {
            switch self {
            case .serve: 200
            case .missingKey, .revoked: 401
            case .rateLimited, .modelLimited: 429
            case .status(let code): code
            }
        }
    }

    var outcome: Outcome
    /// Global plus the key's profile; the request's own `x-mock-latency-ms` is added by the responder.
    var latencyMilliseconds: Int
    var retryAfterStyle: RetryAfterStyle
    /// The key's profile over the server's settings; the request's `x-mock-chunks*` headers override both.
    var chunks: Int
    var chunkDelayMilliseconds: Int
    /// 1-based request number since the last reset, used to make response ids unique yet repeatable.
    var sequence: Int
}
