import NIOCore
import NIOHTTP1
import RotatorCore

import Foundation

/// What the proxy knows about one upstream wire format: where its key goes, what its error codes mean, and the shape
/// of the errors its SDKs parse. `/proxy/` routes speak `.generic` whatever the config's `api_format` says.
public enum UpstreamDialect: Sendable, Equatable {
    /// OpenAI and every OpenAI-compatible upstream (OpenRouter, vLLM, ...).
    case openAI
    case anthropic
    case gemini
    /// Any REST API: only the status says what happened.
    case generic

    public init(config: ProxyConfig, route: ProxyRouteKind) {
        switch route {
        case .llm: self.init(format: config.apiFormat)
        case .generic: self = .generic
        }
    }

    public init(format: APIFormat?) {
        switch format {
        case .openAICompatible: self = .openAI
        case .anthropicNative: self = .anthropic
        case .geminiNative: self = .gemini
        case nil: self = .generic
        }
    }

    /// The header an LLM upstream takes its key in (nil for generic configs: their config says where).
    var keyHeader: (name: String, bearer: Bool)? {
        switch self {
        case .openAI: return ("Authorization", true)
        case .anthropic: return ("x-api-key", false)
        case .gemini: return ("x-goog-api-key", false)
        case .generic: return nil
        }
    }

    /// Query parameters a client of this format may carry its credential in (dropped before the upstream).
    var credentialQueryNames: Set<String> {
        self == .gemini ? ["key"] : []
    }

    /// An error the proxy itself answers, in the shape this format's SDKs parse.
    func errorBody(kind: ClientErrorShape.Kind, status: Int, message: String) -> ByteBuffer {
        let object: [String: Any]
        switch self {
        case .openAI: object = ["error": ["message": message, "type": kind.openAIType, "code": kind.openAICode]]
        case .anthropic: object = ["type": "error", "error": ["type": kind.anthropicType, "message": message]]
        case .gemini: object = ["error": ["code": status, "message": message, "status": kind.googleStatus]]
        case .generic: object = ["error": message]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }

    /// The verdict of this provider's error codes, or nil when they say nothing the status does not.
    ///
    /// A verdict that benches a key (invalid, exhausted, rate limited) rests only on what the provider writes and the
    /// client cannot: its status, error codes, types, reasons and quota ids. The message may echo the request (a model
    /// name, a JSON field, an `anthropic-beta` value), so it may only lessen blame: "the request's doing; another key
    /// may serve it", which benches no key.
    func judge(status: Int, error: ProviderError) -> (blame: AnswerBlame, reason: String)? {
        switch self {
        case .openAI: return Self.judgeOpenAI(status: status, error)
        case .anthropic: return Self.judgeAnthropic(status: status, error)
        case .gemini: return Self.judgeGemini(status: status, error)
        case .generic: return nil
        }
    }

    /// Whether the provider's limit behind a rate-limit or quota answer is per model (the key then rests for the
    /// request's model only). OpenAI's rate limits are per model (its `x-ratelimit-*` headers count one model's);
    /// Anthropic's are per model class; Google's say so in the quota id (`...PerModel...`). A key's money
    /// (`insufficient_quota`, `billing_error`, a spend limit) is the whole key's.
    func limitIsPerModel(_ blame: AnswerBlame, error: ProviderError?) -> Bool {
        switch (self, blame) {
        case (.openAI, .rateLimited):
            // OpenAI's own code; an OpenAI-compatible upstream's bare 429 says nothing of models.
            return error?.code == "rate_limit_exceeded"
        case (.anthropic, .rateLimited):
            return true
        case (.gemini, .rateLimited), (.gemini, .keyExhausted):
            return error?.quotaIDs.contains { $0.contains("PerModel") } ?? false
        default:
            return false
        }
    }

    /// A 429 whose token bucket is full while requests remain: the request alone is larger than the key's per-minute
    /// token limit (OpenAI `x-ratelimit-*-tokens`, Anthropic `anthropic-ratelimit-(input-)tokens-*`). Waiting does
    /// not help this key; a key of a higher tier may serve it. Read from the provider's headers, which the client
    /// cannot write.
    func requestExceedsTokenLimit(headers: HTTPHeaders) -> Bool {
        let tokenBuckets: [String]
        let requestsRemaining: String
        switch self {
        case .openAI:
            tokenBuckets = ["x-ratelimit-%@-tokens"]
            requestsRemaining = "x-ratelimit-remaining-requests"
        case .anthropic:
            tokenBuckets = ["anthropic-ratelimit-input-tokens-%@", "anthropic-ratelimit-tokens-%@"]
            requestsRemaining = "anthropic-ratelimit-requests-remaining"
        case .gemini, .generic:
            return false
        }
        func number(_ name: String) -> Double? { headers.first(name: name).flatMap { RateLimitReset.plainNumber($0) } }
        if let requests = number(requestsRemaining), requests < 1 { return false }
        return tokenBuckets.contains { pattern in
            guard let limit = number(pattern.replacingOccurrences(of: "%@", with: "limit")),
                let remaining = number(pattern.replacingOccurrences(of: "%@", with: "remaining"))
            else { return false }
            return limit > 0 && remaining >= limit
        }
    }

    /// The status alone, for answers whose body says nothing known.
    static func judge(status: Int) -> (blame: AnswerBlame, reason: String) {
        switch status {
        case 100..<400: return (.success, "answered \(status)")
        case 401: return (.keyInvalid, "upstream answered 401")
        case 402: return (.keyExhausted(retryAfter: nil), "upstream answered 402 payment required")
        case 403: return (.request(dependsOnKey: true), "upstream answered 403")
        case 429: return (.rateLimited(retryAfter: nil), "upstream answered 429")
        case 408, 500, 502, 503, 504, 520...530: return (.upstream, "upstream answered \(status)")
        default: return (.request(dependsOnKey: false), "upstream answered \(status)")
        }
    }

    // MARK: OpenAI (and compatible)

    static let openAIKeyInvalidCodes: Set<String> = ["invalid_api_key", "account_deactivated", "access_terminated", "api_key_revoked"]
    static let openAIExhaustedCodes: Set<String> = [
        "insufficient_quota", "credit_balance_exhausted", "organization_spend_limit_exceeded", "project_spend_limit_exceeded",
        "organization_usage_limit_exceeded", "billing_hard_limit_reached", "billing_not_active",
    ]

    private static func judgeOpenAI(status: Int, _ error: ProviderError) -> (blame: AnswerBlame, reason: String)? {
        let code = error.code ?? ""
        let type = error.type ?? ""
        if openAIKeyInvalidCodes.contains(code) { return (.keyInvalid, "openai \(code)") }
        if openAIExhaustedCodes.contains(code) || openAIExhaustedCodes.contains(type) {
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

    // MARK: Anthropic

    private static func judgeAnthropic(status: Int, _ error: ProviderError) -> (blame: AnswerBlame, reason: String)? {
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

    // MARK: Gemini (Google APIs)

    static let googleKeyInvalidReasons: Set<String> = [
        "API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED", "API_KEY_IP_ADDRESS_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED", "API_KEY_ANDROID_APP_BLOCKED", "API_KEY_IOS_APP_BLOCKED", "CONSUMER_SUSPENDED",
        "SERVICE_DISABLED", "ACCESS_TOKEN_EXPIRED",
    ]

    private static func judgeGemini(status: Int, _ error: ProviderError) -> (blame: AnswerBlame, reason: String)? {
        if let reason = error.reasons.first(where: googleKeyInvalidReasons.contains) { return (.keyInvalid, "gemini \(reason)") }
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
