import FormatConversion

/// OpenAI and every OpenAI-compatible upstream (OpenRouter, vLLM, ...): the key as a Bearer token, error codes in
/// `error.code`, rate-limit windows in `x-ratelimit-*`.
public enum OpenAICompatibleProvider: UpstreamProvider {
    public static let keyHeader: (name: String, bearer: Bool)? = ("Authorization", true)
    public static let modelPlace = ModelPlace.body
    public static let errorShape: (any ClientWireFormat.Type)? = OpenAIChatFormat.self
    public static let modelsPath: String? = OpenAIChatFormat.modelsPath
    public static let tokenLimitHeaders: (buckets: [String], requestsRemaining: String)? = (["x-ratelimit-%@-tokens"], "x-ratelimit-remaining-requests")

    /// OpenAI's rate limits are per model (its `x-ratelimit-*` headers count one model's); an OpenAI-compatible
    /// upstream's bare 429 says nothing of models.
    public static func limitIsPerModel(_ blame: AnswerBlame, error: ProviderError?) -> Bool {
        if case .rateLimited = blame { return error?.code == "rate_limit_exceeded" }
        return false
    }

    static let keyInvalidCodes: Set<String> = ["invalid_api_key", "account_deactivated", "access_terminated", "api_key_revoked"]
    static let exhaustedCodes: Set<String> = [
        "insufficient_quota", "credit_balance_exhausted", "organization_spend_limit_exceeded", "project_spend_limit_exceeded",
        "organization_usage_limit_exceeded", "billing_hard_limit_reached", "billing_not_active",
    ]

    public static func judge(status: Int, error: ProviderError) -> (blame: AnswerBlame, reason: String)? {
        let code = error.code ?? ""
        let type = error.type ?? ""
        if keyInvalidCodes.contains(code) { return (.keyInvalid, "openai \(code)") }
        if exhaustedCodes.contains(code) || exhaustedCodes.contains(type) {
            return (.keyExhausted(retryAfter: nil), "openai \(code.isEmpty ? type : code)")
        }
        switch status {
        case 401:
            // A restricted key without the endpoint's scope, or a client's organisation header the key is not in:
            // this key cannot serve this request, another may.
            if error.messageContains("insufficient permissions", "missing scopes") { return (.request(dependsOnKey: true), "openai missing scope") }
            if code.contains("organization") || error.messageContains("organization") {
                return (.request(dependsOnKey: true), "openai organization refused")
            }
            if error.messageContains("ip not authorized", "not authorized to access this resource from this ip") {
                return (.request(dependsOnKey: true), "openai address not allowed")
            }
            return nil
        case 402:
            // OpenRouter: "Insufficient credits".
            return (.keyExhausted(retryAfter: nil), "upstream answered 402 (credits)")
        case 403:
            if code == "unsupported_country_region_territory" { return (.request(dependsOnKey: true), "openai region not supported") }
            return (.request(dependsOnKey: true), "openai permission denied")
        case 404 where code == "model_not_found":
            return (.request(dependsOnKey: true), "openai model not found or not accessible")
        case 400 where code == "context_length_exceeded":
            return (.request(dependsOnKey: false), "openai context length exceeded")
        case 429:
            // "Request too large for gpt-4o ... on tokens per min (TPM): Limit 30000, Requested 45000": the request
            // exceeds this key's tier, not its current rate; a key of a higher tier may serve it. (Read from the
            // message, which only lessens blame here; a full token bucket says the same from the headers.)
            if error.type == "tokens", error.message.hasPrefix("request too large") {
                return (.request(dependsOnKey: true), "openai request larger than the key's limit")
            }
            return (.rateLimited(retryAfter: nil), "openai \(code.isEmpty ? "rate limited" : code)")
        case 500..<600:
            if code == "server_is_overloaded" || code == "engine_overloaded" || error.messageContains("overloaded") {
                return (.upstream, "openai overloaded")
            }
            return nil
        default:
            return nil
        }
    }
}
