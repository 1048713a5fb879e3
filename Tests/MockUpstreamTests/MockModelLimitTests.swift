import Foundation
import MockUpstream
import Testing

/// Per-model limits and echoed client text, each in the provider's own shape (issue 16).
@Suite struct MockModelLimitTests {
    static let limits = KeyProfile(modelLimits: [
        "gpt-limited": ModelLimit(kind: .perMinute, retryAfterSeconds: 20), "gpt-big": ModelLimit(kind: .requestTooLarge),
        "claude-limited": ModelLimit(kind: .perMinute, retryAfterSeconds: 7), "claude-big": ModelLimit(kind: .requestTooLarge),
        "gemini-limited": ModelLimit(kind: .perDay, retryAfterSeconds: 30), "gemini-zero": ModelLimit(kind: .zero),
    ])

    @Test func openAIPerModel429CarriesTheModelsRateLimitHeaders() async throws {
        try await MockUpstreamFixture.run(MockUpstreamState(defaultProfile: Self.limits)) { mock in
            let limited = try await mock.send("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer sk-a")],
                                              body: #"{"model":"gpt-limited","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(limited.status == 429)
            #expect(limited.json.object("error").string("code") == "rate_limit_exceeded")
            #expect(limited.json.object("error").string("type") == "requests")
            #expect(limited.json.object("error").string("message")?.contains("gpt-limited") == true)
            #expect(limited.header("x-ratelimit-remaining-requests") == "0")
            #expect(limited.header("x-ratelimit-reset-requests") == "20s")
            #expect(limited.header("x-ratelimit-limit-requests") != nil)
            let big = try await mock.send("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer sk-a")],
                                          body: #"{"model":"gpt-big","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(big.json.object("error").string("type") == "tokens")
            #expect(big.header("x-ratelimit-remaining-tokens") == big.header("x-ratelimit-limit-tokens"))
            let other = try await mock.send("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer sk-a")],
                                            body: #"{"model":"gpt-free","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(other.status == 200, "another model is served")
        }
    }

    @Test func anthropicPerModel429CarriesItsRateLimitHeaders() async throws {
        try await MockUpstreamFixture.run(MockUpstreamState(defaultProfile: Self.limits)) { mock in
            let headers = [("x-api-key", "sk-ant-a"), MockUpstreamFixture.anthropicVersion]
            let limited = try await mock.send("POST", "/v1/messages", headers: headers,
                                              body: #"{"model":"claude-limited","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(limited.status == 429)
            #expect(limited.json.string("type") == "error")
            #expect(limited.json.object("error").string("type") == "rate_limit_error")
            #expect(limited.header("retry-after") == "7")
            #expect(limited.header("anthropic-ratelimit-requests-remaining") == "0")
            #expect(limited.header("anthropic-ratelimit-requests-reset").flatMap { try? Date($0, strategy: .iso8601) } != nil)
            let big = try await mock.send("POST", "/v1/messages", headers: headers,
                                          body: #"{"model":"claude-big","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(big.status == 429)
            #expect(big.header("anthropic-ratelimit-input-tokens-remaining") == big.header("anthropic-ratelimit-input-tokens-limit"))
            let tooLarge = try await mock.send("POST", "/v1/messages", headers: headers + [("x-mock-status", "413")],
                                               body: #"{"model":"claude-free","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(tooLarge.status == 413)
            #expect(tooLarge.json.object("error").string("type") == "request_too_large")
        }
    }

    @Test func geminiPerModel429NamesItsQuota() async throws {
        try await MockUpstreamFixture.run(MockUpstreamState(defaultProfile: Self.limits)) { mock in
            let limited = try await mock.send("POST", "/v1beta/models/gemini-limited:generateContent", headers: [("x-goog-api-key", "gk-a")],
                                              body: MockUpstreamFixture.geminiBody)
            #expect(limited.status == 429)
            let error = limited.json.object("error")
            #expect(error.string("status") == "RESOURCE_EXHAUSTED")
            let details = error["details"] as? [[String: Any]] ?? []
            let types = details.compactMap { $0.string("@type") }
            #expect(types == ["type.googleapis.com/google.rpc.QuotaFailure", "type.googleapis.com/google.rpc.Help",
                              "type.googleapis.com/google.rpc.ErrorInfo", "type.googleapis.com/google.rpc.RetryInfo"])
            let violation = (details.first?["violations"] as? [[String: Any]])?.first ?? [:]
            #expect(violation.string("quotaId") == "GenerateRequestsPerDayPerProjectPerModel-FreeTier")
            #expect(violation.object("quotaDimensions").string("model") == "gemini-limited")
            #expect(details.last?.string("retryDelay") == "30s")
            let zero = try await mock.send("POST", "/v1beta/models/gemini-zero:generateContent", headers: [("x-goog-api-key", "gk-a")],
                                           body: MockUpstreamFixture.geminiBody)
            let zeroDetails = zero.json.object("error")["details"] as? [[String: Any]] ?? []
            #expect(((zeroDetails.first?["violations"] as? [[String: Any]])?.first)?.string("quotaValue") == "0")
            #expect(zero.json.object("error").string("message")?.contains("limit: 0, model: gemini-zero") == true)
        }
    }

    /// Per-model limits are scripted over the control API, like any profile.
    @Test func modelLimitsAreScriptedOverHTTP() async throws {
        try await MockUpstreamFixture.run { mock in
            let put = try await mock.send("PUT", "/__mock/default-profile",
                                          body: #"{"modelLimits":{"gpt-limited":{"kind":"perMinute","retryAfterSeconds":5}}}"#)
            #expect(put.status == 200, "\(put.body)")
            let limited = try await mock.send("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer sk-a")],
                                              body: #"{"model":"gpt-limited","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(limited.status == 429)
            #expect(limited.header("x-ratelimit-reset-requests") == "5s")
        }
    }

    /// Providers echo what the client chose: Google a model name or an unknown field, Anthropic an unknown
    /// `anthropic-beta` value or an extra field.
    @Test func providersEchoClientText() async throws {
        try await MockUpstreamFixture.run { mock in
            let model = try await mock.send("POST", "/v1beta/models/api%20key%20not%20valid:generateContent", headers: [("x-goog-api-key", "gk-a")],
                                            body: MockUpstreamFixture.geminiBody)
            #expect(model.status == 404)
            #expect(model.json.object("error").string("status") == "NOT_FOUND")
            #expect(model.json.object("error").string("message")?.hasPrefix("models/api key not valid is not found") == true)
            let beta = try await mock.send("POST", "/v1/messages",
                                           headers: [("x-api-key", "sk-ant-a"), MockUpstreamFixture.anthropicVersion,
                                                     ("anthropic-beta", "prompt-caching-2024-07-31, credit balance is too low")],
                                           body: MockUpstreamFixture.messagesBody)
            #expect(beta.status == 400)
            #expect(beta.json.object("error").string("type") == "invalid_request_error")
            #expect(beta.json.object("error").string("message")?.contains("`credit balance is too low`") == true)
            let knownBeta = try await mock.send("POST", "/v1/messages",
                                                headers: [("x-api-key", "sk-ant-a"), MockUpstreamFixture.anthropicVersion,
                                                          ("anthropic-beta", "prompt-caching-2024-07-31")],
                                                body: MockUpstreamFixture.messagesBody)
            #expect(knownBeta.status == 200)
        }
    }
}
