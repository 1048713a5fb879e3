import Foundation
import NIOCore
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Testing
@testable import UpstreamProviders

/// Real error bodies of each provider (shapes from their error documentation), judged by status and body.
@Suite struct UpstreamAnswerClassifierTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    private func blame(
        _ dialect: UpstreamDialect, _ status: Int, _ body: String?, headers: [(String, String)] = [], overrides: [AnswerOverride] = []
    ) -> AnswerBlame {
        answer(dialect, status, body, headers: headers, overrides: overrides).blame
    }

    private func answer(
        _ dialect: UpstreamDialect, _ status: Int, _ body: String?, headers: [(String, String)] = [], overrides: [AnswerOverride] = []
    ) -> UpstreamAnswer {
        var fields = HTTPHeaders()
        for (name, value) in headers { fields.add(name: name, value: value) }
        return UpstreamAnswerClassifier(dialect: dialect, overrides: overrides)
            .classify(status: status, headers: fields, body: body.map { ByteBuffer(string: $0) }, now: now)
    }

    static func openAI(_ type: String, _ code: String?, _ message: String) -> String {
        let code = code.map { "\"\($0)\"" } ?? "null"
        return #"{"error":{"message":"\#(message)","type":"\#(type)","param":null,"code":\#(code)}}"#
    }

    static func anthropic(_ type: String, _ message: String, errorCode: String? = nil) -> String {
        let details = errorCode.map { #","details":{"error_code":"\#($0)"}"# } ?? ""
        return #"{"type":"error","error":{"type":"\#(type)","message":"\#(message)"\#(details)},"request_id":"req_011"}"#
    }

    static func google(_ code: Int, _ status: String, _ message: String, details: String = "") -> String {
        #"{"error":{"code":\#(code),"message":"\#(message)","status":"\#(status)","details":[\#(details)]}}"#
    }

    // MARK: OpenAI

    @Test func openAIKeyLevel() {
        #expect(blame(.openAI, 401, Self.openAI("invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-abc***wxyz.")) == .keyInvalid)
        // No code: the message alone (which may echo the request) benches no key; another key may serve it.
        #expect(blame(.openAI, 401, Self.openAI("invalid_request_error", nil, "You must be a member of an organization to use the API."))
            == .request(dependsOnKey: true))
        #expect(blame(.openAI, 429, Self.openAI("insufficient_quota", "insufficient_quota",
                                                "You exceeded your current quota, please check your plan and billing details.")) == .keyExhausted(retryAfter: nil))
        #expect(blame(.openAI, 429, Self.openAI("insufficient_quota", "credit_balance_exhausted", "No credits left.")) == .keyExhausted(retryAfter: nil))
        #expect(blame(.openAI, 402, #"{"error":{"message":"Insufficient credits","code":402}}"#) == .keyExhausted(retryAfter: nil))
    }

    @Test func openAIRateLevelCarriesTheReset() {
        let answer = answer(.openAI, 429, Self.openAI("requests", "rate_limit_exceeded", "Rate limit reached for requests"),
                            headers: [("x-ratelimit-reset-requests", "1m30s")])
        #expect(answer.blame == .rateLimited(retryAfter: 90))
        // An exhausted quota does not come back when the rate window resets.
        let exhausted = self.answer(.openAI, 429, Self.openAI("insufficient_quota", "insufficient_quota", "quota"),
                                    headers: [("x-ratelimit-reset-requests", "1m30s")])
        #expect(exhausted.blame == .keyExhausted(retryAfter: nil))
    }

    @Test func openAIRequestLevel() {
        // Larger than this key's tokens-per-minute limit: a key of a higher tier may serve it.
        let tooLarge = Self.openAI("tokens", "rate_limit_exceeded",
                                   "Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Requested 45000.")
        #expect(blame(.openAI, 429, tooLarge) == .request(dependsOnKey: true))
        #expect(blame(.openAI, 400, Self.openAI("invalid_request_error", "context_length_exceeded", "maximum context length")) == .request(dependsOnKey: false))
        #expect(blame(.openAI, 404, Self.openAI("invalid_request_error", "model_not_found", "The model `gpt-9` does not exist or you do not have access to it."))
            == .request(dependsOnKey: true))
        #expect(blame(.openAI, 401, Self.openAI("invalid_request_error", nil,
                                                "You have insufficient permissions for this operation. Missing scopes: api.responses.write."))
            == .request(dependsOnKey: true))
        #expect(blame(.openAI, 401, Self.openAI("invalid_request_error", "invalid_organization", "No such organization: org-zzz."))
            == .request(dependsOnKey: true))
        #expect(blame(.openAI, 403, Self.openAI("request_forbidden", "unsupported_country_region_territory", "Country, region, or territory not supported"))
            == .request(dependsOnKey: true))
        #expect(blame(.openAI, 400, Self.openAI("invalid_request_error", nil, "'messages' is a required property")) == .request(dependsOnKey: false))
    }

    @Test func openAIUpstreamLevel() {
        #expect(blame(.openAI, 503, Self.openAI("service_unavailable_error", "server_is_overloaded", "The server is overloaded.")) == .upstream)
        #expect(blame(.openAI, 500, Self.openAI("server_error", nil, "The server had an error while processing your request.")) == .upstream)
        #expect(blame(.openAI, 502, "<html>Bad gateway</html>") == .upstream)
    }

    // MARK: Anthropic

    @Test func anthropicAnswers() {
        #expect(blame(.anthropic, 401, Self.anthropic("authentication_error", "invalid x-api-key")) == .keyInvalid)
        #expect(blame(.anthropic, 402, Self.anthropic("billing_error", "Your account has a billing issue.")) == .keyExhausted(retryAfter: nil))
        // Anthropic says "credit balance is too low" only in an invalid_request_error's message, which can echo the
        // client's text: another key may serve the request, none is benched (`billing_error` is the code that benches).
        #expect(blame(.anthropic, 400, Self.anthropic("invalid_request_error",
                                                      "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."))
            == .request(dependsOnKey: true))
        #expect(blame(.anthropic, 400, Self.anthropic("invalid_request_error", "You have reached your specified API usage limits. You will regain access on 2026-01-01."))
            == .request(dependsOnKey: true))
        #expect(blame(.anthropic, 429, Self.anthropic("rate_limit_error", "Monthly spend limit reached.", errorCode: "enforced_spend_limit_reached"))
            == .keyExhausted(retryAfter: nil))
        #expect(blame(.anthropic, 429, Self.anthropic("rate_limit_error", "Number of requests has exceeded your per-minute rate limit"),
                      headers: [("retry-after", "12")]) == .rateLimited(retryAfter: 12))
        #expect(blame(.anthropic, 403, Self.anthropic("permission_error", "Your API key does not have permission to use the specified resource."))
            == .request(dependsOnKey: true))
        #expect(blame(.anthropic, 400, Self.anthropic("invalid_request_error", "max_tokens: Field required")) == .request(dependsOnKey: false))
        #expect(blame(.anthropic, 413, Self.anthropic("request_too_large", "Request exceeds the maximum allowed number of bytes.")) == .request(dependsOnKey: false))
        #expect(blame(.anthropic, 404, Self.anthropic("not_found_error", "model: claude-9")) == .request(dependsOnKey: false))
        #expect(blame(.anthropic, 529, Self.anthropic("overloaded_error", "Overloaded")) == .upstream)
        #expect(blame(.anthropic, 500, Self.anthropic("api_error", "Internal server error")) == .upstream)
    }

    // MARK: Gemini

    static let keyInvalidDetails = """
        {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com",
        "metadata":{"service":"generativelanguage.googleapis.com"}}
        """

    @Test func geminiAnswers() {
        #expect(blame(.gemini, 400, Self.google(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", details: Self.keyInvalidDetails))
            == .keyInvalid)
        // Without an ErrorInfo reason, the message benches nothing: another key may serve it.
        #expect(blame(.gemini, 403, Self.google(403, "PERMISSION_DENIED", "Your API key was reported as leaked. Please use another API key."))
            == .request(dependsOnKey: true))
        #expect(blame(.gemini, 401, Self.google(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")) == .keyInvalid)
        let daily = """
            {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_requests",
            "quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"43s"}
            """
        #expect(blame(.gemini, 429, Self.google(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", details: daily))
            == .keyExhausted(retryAfter: 43))
        let perMinute = """
            {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}
            """
        #expect(blame(.gemini, 429, Self.google(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted.", details: perMinute)) == .rateLimited(retryAfter: 7))
        #expect(blame(.gemini, 400, Self.google(400, "FAILED_PRECONDITION", "Gemini API free tier is not available in your country. Please enable billing."))
            == .request(dependsOnKey: true))
        #expect(blame(.gemini, 400, Self.google(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")) == .request(dependsOnKey: false))
        #expect(blame(.gemini, 404, Self.google(404, "NOT_FOUND", "models/gemini-9 is not found")) == .request(dependsOnKey: false))
        #expect(blame(.gemini, 503, Self.google(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")) == .upstream)
        // Gemini's streaming endpoints wrap the error in an array.
        #expect(blame(.gemini, 400, "[" + Self.google(400, "INVALID_ARGUMENT", "API key not valid.", details: Self.keyInvalidDetails) + "]") == .keyInvalid)
    }

    // MARK: Status only, overrides, signatures

    @Test func genericUpstreamsAreJudgedByStatus() {
        #expect(blame(.generic, 200, nil) == .success)
        #expect(blame(.generic, 302, nil) == .success)
        #expect(blame(.generic, 401, #"{"error":"bad token"}"#) == .keyInvalid)
        #expect(blame(.generic, 403, nil) == .request(dependsOnKey: true))
        #expect(blame(.generic, 429, nil, headers: [("Retry-After", "5")]) == .rateLimited(retryAfter: 5))
        #expect(blame(.generic, 404, nil) == .request(dependsOnKey: false))
        #expect(blame(.generic, 501, nil) == .request(dependsOnKey: false))
        #expect(blame(.generic, 503, nil) == .upstream)
        // A bare status is weak evidence; a provider's code or an admin's override is not.
        #expect(answer(.generic, 401, #"{"error":"bad token"}"#).isStatusOnly)
        #expect(answer(.openAI, 401, #"{"error":{"message":"User not found.","code":401}}"#).isStatusOnly)
        #expect(!answer(.openAI, 401, Self.openAI("invalid_request_error", "invalid_api_key", "x")).isStatusOnly)
        #expect(!answer(.generic, 401, nil, overrides: [AnswerOverride(status: 401, bodyContains: nil, blame: .keyInvalid)]).isStatusOnly)
        // A body in some provider's shape means nothing on a generic route.
        #expect(blame(.generic, 400, Self.openAI("invalid_request_error", "invalid_api_key", "x")) == .request(dependsOnKey: false))
    }

    @Test func overridesComeFirst() {
        let overrides = [
            AnswerOverride(status: 400, bodyContains: "TOKEN EXPIRED", blame: .keyInvalid),
            AnswerOverride(status: 403, bodyContains: nil, blame: .request),
            AnswerOverride(status: nil, bodyContains: "quota_used_up", blame: .keyExhausted),
            AnswerOverride(status: 200, bodyContains: "\"throttled\":true", blame: .rateLimited),
        ]
        #expect(blame(.generic, 400, #"{"msg":"token expired"}"#, overrides: overrides) == .keyInvalid, "case-insensitive")
        #expect(blame(.generic, 400, #"{"msg":"bad field"}"#, overrides: overrides) == .request(dependsOnKey: false))
        #expect(blame(.generic, 403, nil, overrides: overrides) == .request(dependsOnKey: false))
        #expect(blame(.openAI, 500, #"{"error":"quota_used_up"}"#, overrides: overrides) == .keyExhausted(retryAfter: nil))
        #expect(blame(.generic, 200, #"{"throttled":true}"#, headers: [("Retry-After", "3")], overrides: overrides) == .rateLimited(retryAfter: 3))
        #expect(blame(.generic, 200, #"{"throttled":false}"#, overrides: overrides) == .success)
        // An override beats the provider's codes.
        let relabel = [AnswerOverride(status: 401, bodyContains: nil, blame: .upstream)]
        #expect(blame(.openAI, 401, Self.openAI("invalid_request_error", "invalid_api_key", "x"), overrides: relabel) == .upstream)
    }

    @Test func signaturesIgnoreMessages() {
        let first = answer(.openAI, 403, Self.openAI("permission_error", "model_access", "request req_1 denied"))
        let second = answer(.openAI, 403, Self.openAI("permission_error", "model_access", "request req_2 denied"))
        let other = answer(.openAI, 403, Self.openAI("permission_error", "org_access", "request req_3 denied"))
        #expect(first.signature == second.signature)
        #expect(first.signature != other.signature)
        #expect(answer(.generic, 503, "a").signature == answer(.generic, 503, "b").signature)
        #expect(!first.reason.contains("req_1"), "reasons never carry the body")
    }

    // MARK: Client text never benches a key (issue 16)

    private static func benches(_ blame: AnswerBlame) -> Bool {
        switch blame {
        case .keyInvalid, .keyExhausted, .rateLimited: return true
        case .success, .request, .upstream: return false
        }
    }

    /// Providers echo what the client chose (a model name, a JSON field, a header value) in their messages: no
    /// message text benches a key, in any dialect.
    @Test func clientTextInMessagesBenchesNoKey() {
        let echoes: [(UpstreamDialect, Int, String)] = [
            (.gemini, 404, Self.google(404, "NOT_FOUND",
                                       "models/api key not valid is not found for API version v1beta, or is not supported for generateContent.")),
            (.gemini, 400, Self.google(400, "INVALID_ARGUMENT", #"Invalid JSON payload received. Unknown name \"api key not valid\": Cannot find field."#)),
            (.gemini, 400, Self.google(400, "INVALID_ARGUMENT", "API key expired. reported as leaked.")),
            (.anthropic, 400, Self.anthropic("invalid_request_error",
                                             "Unexpected value(s) `credit balance is too low` for the `anthropic-beta` header.")),
            (.anthropic, 400, Self.anthropic("invalid_request_error", "credit balance is too low: Extra inputs are not permitted")),
            (.openAI, 400, Self.openAI("invalid_request_error", nil, "Unrecognized request argument supplied: insufficient_quota invalid_api_key")),
            (.openAI, 401, Self.openAI("invalid_request_error", nil, "must be a member of an organization")),
        ]
        for (dialect, status, body) in echoes {
            let judged = answer(dialect, status, body)
            #expect(!Self.benches(judged.blame) || judged.isStatusOnly, "\(dialect) \(status): \(judged.blame) from \(body)")
        }
        // A Gemini quota of zero only in the message (no quota value): a rate limit, not an exhausted key.
        #expect(blame(.gemini, 429, Self.google(429, "RESOURCE_EXHAUSTED", "Quota exceeded for metric: x, limit: 0, model: m"))
            == .rateLimited(retryAfter: nil))
    }

    /// What does bench: the providers' own codes, types, reasons and quota ids.
    @Test func providersCodesBench() {
        #expect(blame(.gemini, 400, Self.google(400, "INVALID_ARGUMENT", "x", details: Self.keyInvalidDetails)) == .keyInvalid)
        #expect(blame(.anthropic, 401, Self.anthropic("authentication_error", "x")) == .keyInvalid)
        #expect(blame(.anthropic, 402, Self.anthropic("billing_error", "x")) == .keyExhausted(retryAfter: nil))
        #expect(blame(.anthropic, 429, Self.anthropic("rate_limit_error", "x")) == .rateLimited(retryAfter: nil))
        #expect(blame(.openAI, 401, Self.openAI("invalid_request_error", "invalid_api_key", "x")) == .keyInvalid)
        #expect(blame(.openAI, 429, Self.openAI("insufficient_quota", "insufficient_quota", "x")) == .keyExhausted(retryAfter: nil))
        #expect(blame(.openAI, 429, Self.openAI("requests", "rate_limit_exceeded", "x")) == .rateLimited(retryAfter: nil))
        let zero = #"{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaValue":"0"}]}"#
        #expect(blame(.gemini, 429, Self.google(429, "RESOURCE_EXHAUSTED", "x", details: zero)) == .keyExhausted(retryAfter: nil))
    }

    /// Which limits are per model: the key then rests for the request's model only.
    @Test func perModelLimitsAreNamed() {
        #expect(answer(.openAI, 429, Self.openAI("requests", "rate_limit_exceeded", "Rate limit reached for gpt-4o")).isPerModel)
        #expect(!answer(.openAI, 429, Self.openAI("insufficient_quota", "insufficient_quota", "x")).isPerModel, "money is the whole key's")
        #expect(answer(.anthropic, 429, Self.anthropic("rate_limit_error", "x")).isPerModel)
        #expect(!answer(.anthropic, 429, Self.anthropic("rate_limit_error", "x", errorCode: "enforced_spend_limit_reached")).isPerModel)
        let perModel = """
            {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier",
            "quotaDimensions":{"location":"global","model":"gemini-2.5-pro"},"quotaValue":"0"}]}
            """
        let zero = answer(.gemini, 429, Self.google(429, "RESOURCE_EXHAUSTED", "limit: 0", details: perModel))
        #expect(zero.blame == .keyExhausted(retryAfter: nil) && zero.isPerModel, "the free tier's limit 0 rests the key for that model only")
        let perProject = #"{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProject"}]}"#
        #expect(!answer(.gemini, 429, Self.google(429, "RESOURCE_EXHAUSTED", "x", details: perProject)).isPerModel)
        #expect(!answer(.generic, 429, nil, headers: [("Retry-After", "3600")]).isPerModel, "a bare status says nothing of models")
        #expect(!answer(.openAI, 429, #"{"error":{"message":"Rate limit exceeded","code":429}}"#).isPerModel,
                "an OpenAI-compatible upstream's 429 without OpenAI's code rests the whole key")
    }

    /// A request larger than the key's per-minute tokens (the token bucket is full, requests remain) is the request's.
    @Test func aRequestOverTheKeysTokenLimitIsTheRequests() {
        let full = [("anthropic-ratelimit-requests-remaining", "49"), ("anthropic-ratelimit-input-tokens-limit", "30000"),
                    ("anthropic-ratelimit-input-tokens-remaining", "30000"), ("retry-after", "60")]
        #expect(blame(.anthropic, 429, Self.anthropic("rate_limit_error", "would exceed 30,000 input tokens per minute"), headers: full)
            == .request(dependsOnKey: true))
        let outOfRequests = [("anthropic-ratelimit-requests-remaining", "0"), ("anthropic-ratelimit-input-tokens-limit", "30000"),
                             ("anthropic-ratelimit-input-tokens-remaining", "30000"), ("retry-after", "60")]
        #expect(blame(.anthropic, 429, Self.anthropic("rate_limit_error", "x"), headers: outOfRequests) == .rateLimited(retryAfter: 60))
        #expect(blame(.anthropic, 413, Self.anthropic("request_too_large", "Request exceeds the maximum allowed number of bytes.")) == .request(dependsOnKey: false))
        let openAIFull = [("x-ratelimit-limit-tokens", "30000"), ("x-ratelimit-remaining-tokens", "30000"), ("x-ratelimit-remaining-requests", "499")]
        #expect(blame(.openAI, 429, Self.openAI("tokens", "rate_limit_exceeded", "x"), headers: openAIFull) == .request(dependsOnKey: true))
    }
}
