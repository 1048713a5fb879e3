import Foundation
import HTTPTypes
import Hummingbird

/// Per-model limits as each provider answers them, body and headers (shapes from the providers' documentation and
/// answers seen in the wild):
/// - OpenAI: 429 `rate_limit_exceeded` with `type` `requests` (or `tokens`), the model named in the message, and the
///   model's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` headers;
/// - Anthropic: 429 `rate_limit_error` with `retry-after` and `anthropic-ratelimit-*` headers (RFC 3339 resets);
/// - Gemini: 429 `RESOURCE_EXHAUSTED` with a `QuotaFailure` (`quotaId` `...PerModel...`, `quotaDimensions.model`,
///   `quotaValue`), `Help`, `ErrorInfo` (`RATE_LIMIT_EXCEEDED`) and `RetryInfo` details.
extension MockUpstreamResponder {
    static func modelLimitAnswer(model: String, limit: ModelLimit, dialect: ProviderDialect) -> Response {
        switch dialect {
        case .openAI, .generic: return openAIModelLimit(model: model, limit: limit)
        case .anthropic: return anthropicModelLimit(model: model, limit: limit)
        case .gemini: return geminiModelLimit(model: model, limit: limit)
        }
    }

    private static func openAIModelLimit(model: String, limit: ModelLimit) -> Response {
        let seconds = limit.retryAfterSeconds
        var headers: HTTPFields = [:]
        let type: String
        let message: String
        // Out of requests for the model; or a request whose tokens alone exceed the minute's bucket, which is full.
        let remaining: (requests: Int, inputTokens: Int)
        switch limit.kind {
        case .perMinute, .perDay, .zero:
            let window = limit.kind == .perMinute ? "requests per min (RPM)" : "requests per day (RPD)"
            let cap = limit.kind == .zero ? 0 : (limit.kind == .perMinute ? 3 : 200)
            type = "requests"
            message = "Rate limit reached for \(model) in organization org-mock on \(window): Limit \(cap), Used \(cap), Requested 1. "
                + "Please try again in \(seconds)s. Visit https://platform.openai.com/account/rate-limits to learn more."
            headers[field("x-ratelimit-limit-requests")] = String(cap)
            headers[field("x-ratelimit-remaining-requests")] = "0"
            headers[field("x-ratelimit-reset-requests")] = "\(seconds)s"
            headers[field("x-ratelimit-limit-tokens")] = "30000"
            headers[field("x-ratelimit-remaining-tokens")] = "29990"
            headers[field("x-ratelimit-reset-tokens")] = "20ms"
        case .requestTooLarge:
            type = "tokens"
            message = "Request too large for \(model) in organization org-mock on tokens per min (TPM): Limit 30000, Requested 45000. "
                + "The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more."
            headers[field("x-ratelimit-limit-requests")] = "500"
            headers[field("x-ratelimit-remaining-requests")] = "499"
            headers[field("x-ratelimit-reset-requests")] = "120ms"
            headers[field("x-ratelimit-limit-tokens")] = "30000"
            headers[field("x-ratelimit-remaining-tokens")] = "30000"
            headers[field("x-ratelimit-reset-tokens")] = "0s"
        }
        let body = #"{"error":{"message":\#(JSONText.quote(message)),"type":"\#(type)","param":null,"code":"rate_limit_exceeded"}}"#
        return json(429, body, headers: headers)
    }

    private static func anthropicModelLimit(model: String, limit: ModelLimit) -> Response {
        let seconds = limit.retryAfterSeconds
        let reset = ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(seconds)))
        var headers: HTTPFields = [.retryAfter: String(seconds)]
        // Out of requests for the model; or a request whose tokens alone exceed the minute's bucket, which is full.
        let exceeded: String
        let remaining: (requests: Int, inputTokens: Int)
        switch limit.kind {
        case .perMinute, .perDay, .zero:
            exceeded = "50 requests per minute for \(model)"
            remaining = (requests: 0, inputTokens: 29000)
        case .requestTooLarge:
            exceeded = "30,000 input tokens per minute"
            remaining = (requests: 49, inputTokens: 30000)
        }
        let message = "This request would exceed the rate limit for your organization (org-mock) of \(exceeded). "
            + "For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. "
            + "Please reduce the prompt length or the maximum tokens requested, or try again later."
        headers[field("anthropic-ratelimit-requests-limit")] = "50"
        headers[field("anthropic-ratelimit-requests-remaining")] = String(remaining.requests)
        headers[field("anthropic-ratelimit-requests-reset")] = reset
        headers[field("anthropic-ratelimit-input-tokens-limit")] = "30000"
        headers[field("anthropic-ratelimit-input-tokens-remaining")] = String(remaining.inputTokens)
        headers[field("anthropic-ratelimit-input-tokens-reset")] = reset
        headers[field("anthropic-ratelimit-output-tokens-limit")] = "8000"
        headers[field("anthropic-ratelimit-output-tokens-remaining")] = "8000"
        headers[field("anthropic-ratelimit-output-tokens-reset")] = reset
        let body = #"{"type":"error","error":{"type":"rate_limit_error","message":\#(JSONText.quote(message))}}"#
        return json(429, body, headers: headers)
    }

    private static func geminiModelLimit(model: String, limit: ModelLimit) -> Response {
        let seconds = limit.retryAfterSeconds
        let (metric, quotaID, value): (String, String, String) = switch limit.kind {
        case .perMinute: ("generate_content_free_tier_requests", "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "10")
        case .perDay: ("generate_content_free_tier_requests", "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "250")
        case .zero: ("generate_content_free_tier_requests", "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "0")
        case .requestTooLarge: ("generate_content_free_tier_input_token_count", "GenerateContentInputTokensPerModelPerMinute-FreeTier", "250000")
        }
        let fullMetric = "generativelanguage.googleapis.com/\(metric)"
        let message = "You exceeded your current quota, please check your plan and billing details. For more information on this error, "
            + "head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. "
            + "\n* Quota exceeded for metric: \(fullMetric), limit: \(value), model: \(model)\nPlease retry in \(seconds).0s."
        let metricText = JSONText.quote(fullMetric)
        let details = [
            #"{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":\#(metricText),"quotaId":"\#(quotaID)","#
                + #""quotaDimensions":{"location":"global","model":\#(JSONText.quote(model))},"quotaValue":"\#(value)"}]}"#,
            #"{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","#
                + #""url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]}"#,
            #"{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com","#
                + #""metadata":{"service":"generativelanguage.googleapis.com","quota_metric":\#(metricText),"quota_limit":"\#(quotaID)","#
                + #""quota_limit_value":"\#(value)"}}"#,
            #"{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"\#(seconds)s"}"#,
        ]
        let body = #"{"error":{"code":429,"message":\#(JSONText.quote(message)),"status":"RESOURCE_EXHAUSTED","details":[\#(details.joined(separator: ","))]}}"#
        return json(429, body)
    }

    private static func field(_ name: String) -> HTTPField.Name {
        // Literal, valid names: `HTTPField.Name` fails only on invalid tokens.
        HTTPField.Name(name)!
    }
}
