import FormatConversion

/// Anthropic's Messages API: the key in `x-api-key`, `anthropic-version` on every call, error types in
/// `error.type`, rate-limit windows in `anthropic-ratelimit-*`.
public enum AnthropicProvider: UpstreamProvider {
    public static let keyHeader: (name: String, bearer: Bool)? = ("x-api-key", false)
    public static let clientKeyHeaders = ["x-api-key"]
    public static let versionHeader: (name: String, value: String)? = ("anthropic-version", AnthropicFormat.apiVersion)
    public static let ownHeaders = ["anthropic-version", "anthropic-beta"]
    public static let modelPlace = ModelPlace.body
    public static let errorShape: (any ClientWireFormat.Type)? = AnthropicFormat.self
    public static let modelsPath: String? = AnthropicFormat.modelsPath
    public static let pathMarks = (containing: [String](), endingWith: ["/messages", "/messages/count_tokens"])
    public static let tokenLimitHeaders: (buckets: [String], requestsRemaining: String)? = (
        ["anthropic-ratelimit-input-tokens-%@", "anthropic-ratelimit-tokens-%@"], "anthropic-ratelimit-requests-remaining"
    )

    /// Anthropic's rate limits are per model class.
    public static func limitIsPerModel(_ blame: AnswerBlame, error: ProviderError?) -> Bool {
        if case .rateLimited = blame { return true }
        return false
    }

    public static func judge(status: Int, error: ProviderError) -> (blame: AnswerBlame, reason: String)? {
        switch error.type {
        case "authentication_error":
            return (.keyInvalid, "anthropic authentication_error")
        case "billing_error":
            return (.keyExhausted(retryAfter: nil), "anthropic billing_error")
        case "rate_limit_error":
            // The monthly spend limit of the key's organisation: no retry helps until the month turns.
            if error.code == "enforced_spend_limit_reached" { return (.keyExhausted(retryAfter: nil), "anthropic spend limit reached") }
            return (.rateLimited(retryAfter: nil), "anthropic rate_limit_error")
        case "invalid_request_error":
            // Anthropic says "credit balance is too low" only in the message of a 400 invalid_request_error, and the
            // message can echo the client's text (an `anthropic-beta` value, an extra field): it benches no key, but
            // the request may try another key (`billing_error` is the code that benches).
            if error.messageContains("credit balance is too low", "api usage limits", "usage blocked") {
                return (.request(dependsOnKey: true), "anthropic invalid_request_error (credit or usage limit?)")
            }
            return (.request(dependsOnKey: false), "anthropic invalid_request_error")
        case "permission_error":
            return (.request(dependsOnKey: true), "anthropic permission_error")
        case "not_found_error":
            return (.request(dependsOnKey: false), "anthropic not_found_error")
        case "request_too_large":
            return (.request(dependsOnKey: false), "anthropic request_too_large")
        case "overloaded_error":
            return (.upstream, "anthropic overloaded_error")
        case "api_error", "timeout_error":
            return (.upstream, "anthropic \(error.type ?? "")")
        default:
            return nil
        }
    }
}
