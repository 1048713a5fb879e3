import FormatConversion

/// Google's Gemini API (and Google APIs' error model): the key in `x-goog-api-key` (clients may put theirs in
/// `?key=`), the model in the path, `ErrorInfo` reasons and `QuotaFailure` ids in `error.details`.
public enum GeminiProvider: UpstreamProvider {
    public static let keyHeader: (name: String, bearer: Bool)? = ("x-goog-api-key", false)
    public static let clientKeyHeaders = ["x-goog-api-key"]
    public static let credentialQueryNames: Set<String> = ["key"]
    public static let modelPlace = ModelPlace.path
    public static let errorShape: (any ClientWireFormat.Type)? = GeminiFormat.self
    public static let modelsPath: String? = GeminiFormat.modelsPath
    public static let clientPicksVersion = true
    public static let pathMarks = (
        containing: [":generateContent", ":streamGenerateContent", ":countTokens", ":embedContent", ":batchEmbedContents"], endingWith: [String]()
    )

    /// Google's quota ids say whether a limit is per model (`...PerModel...`).
    public static func limitIsPerModel(_ blame: AnswerBlame, error: ProviderError?) -> Bool {
        switch blame {
        case .rateLimited, .keyExhausted: return error?.quotaIDs.contains { $0.contains("PerModel") } ?? false
        default: return false
        }
    }

    static let keyInvalidReasons: Set<String> = [
        "API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED", "API_KEY_IP_ADDRESS_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED", "API_KEY_ANDROID_APP_BLOCKED", "API_KEY_IOS_APP_BLOCKED", "CONSUMER_SUSPENDED",
        "SERVICE_DISABLED", "ACCESS_TOKEN_EXPIRED",
    ]

    public static func judge(status: Int, error: ProviderError) -> (blame: AnswerBlame, reason: String)? {
        if let reason = error.reasons.first(where: keyInvalidReasons.contains) { return (.keyInvalid, "gemini \(reason)") }
        switch error.status {
        case "UNAUTHENTICATED":
            return (.keyInvalid, "gemini UNAUTHENTICATED")
        case "RESOURCE_EXHAUSTED":
            // A per-day quota, or a quota of zero (the key's project has none of this model on its tier: the free tier's
            // `limit: 0`), does not come back within a rate-limit cooldown. Both are per model when the quota id says
            // `PerModel` (then the key rests for that model only; see `limitIsPerModel`).
            if error.quotaIDs.contains(where: { $0.contains("PerDay") }) || error.quotaValues.contains("0") {
                return (.keyExhausted(retryAfter: nil), "gemini daily quota exhausted")
            }
            return (.rateLimited(retryAfter: nil), "gemini RESOURCE_EXHAUSTED")
        case "PERMISSION_DENIED":
            return (.request(dependsOnKey: true), "gemini PERMISSION_DENIED")
        case "FAILED_PRECONDITION":
            // "The free tier is not available in your country; enable billing": a key of a billed project may serve it.
            return (.request(dependsOnKey: true), "gemini FAILED_PRECONDITION")
        case "INVALID_ARGUMENT", "OUT_OF_RANGE":
            return (.request(dependsOnKey: false), "gemini \(error.status ?? "")")
        case "NOT_FOUND":
            return (.request(dependsOnKey: false), "gemini NOT_FOUND")
        case "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED":
            return (.upstream, "gemini \(error.status ?? "")")
        default:
            return nil
        }
    }
}
