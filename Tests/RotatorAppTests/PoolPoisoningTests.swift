import Foundation
import MockUpstream
import Testing

/// Issue 16, holes 3 and 4, end to end against the strict mock speaking each provider's own error shapes: no text the
/// client chose benches a key, and no single request (or per-model limit) rests the whole pool.
@Suite(.serialized) struct PoolPoisoningTests {
    /// Runs `body` against a fresh node and stops the node before returning, whatever `body` does.
    private func withNode(_ environment: [String: String] = [:], _ body: (TestNode) async throws -> Void) async throws {
        try await withRunningNode(environment: environment, body)
    }

    private func statuses(_ node: TestNode, _ configID: Int) async throws -> [String] {
        try await node.keys(configID: configID).map { $0["status"] as? String ?? "?" }
    }

    private func chat(_ model: String) -> String {
        #"{"model":"\#(model)","messages":[{"role":"user","content":"hi"}]}"#
    }

    /// OpenAI's limits are per model: a 429 storm on one model rests the keys for that model only.
    @Test func afterAStormOnOneModelAnotherModelIsServed() async throws {
        try await withNode { node in
            let id = try await node.createConfig(slug: "models")
            try await node.addKeys(configID: id, sampleKeys(6, prefix: "sk-models"))
            node.mockState.setDefaultProfile(KeyProfile(modelLimits: ["gpt-storm": ModelLimit(kind: .perMinute, retryAfterSeconds: 60)]))
            for _ in 0..<4 {
                let stormed = try await node.proxy("models", body: chat("gpt-storm"))
                #expect(stormed.status == 429, "\(stormed.text)")
            }
            var served = 0
            for _ in 0..<12 {
                if try await node.proxy("models", body: chat("gpt-other")).status == 200 { served += 1 }
            }
            #expect(served == 12, "requests for another model are served: \(served) of 12")
            #expect(try await statuses(node, id).allSatisfy { $0 == "active" }, "no key rests as a whole")
        }
    }

    /// Gemini's free tier answers `limit: 0` for a model the project has no quota of: the keys rest for that model
    /// only (a per-model, per-project quota), never as a whole.
    @Test func aGeminiModelWithoutQuotaExhaustsNoKey() async throws {
        try await withNode { node in
            let id = try await node.createConfig(slug: "gem-zero", format: "gemini_native", base: node.mock.baseURL)
            try await node.addKeys(configID: id, sampleKeys(4, prefix: "gm-zero"))
            node.mockState.setDefaultProfile(KeyProfile(modelLimits: ["gemini-pro-x": ModelLimit(kind: .zero, retryAfterSeconds: 10)]))
            let body = #"{"contents":[{"parts":[{"text":"hi"}]}]}"#
            let headers = [("x-goog-api-key", TestNode.proxyKey)]
            for _ in 0..<3 {
                let refused = try await node.proxy("gem-zero", "/v1beta/models/gemini-pro-x:generateContent", body: body, headers: headers)
                #expect(refused.status == 429, "\(refused.text)")
            }
            for _ in 0..<6 {
                let served = try await node.proxy("gem-zero", "/v1beta/models/gemini-flash:generateContent", body: body, headers: headers)
                #expect(served.status == 200, "\(served.text)")
            }
            #expect(try await statuses(node, id).allSatisfy { $0 == "active" })
        }
    }

    /// Google echoes the model name and unknown JSON field names in its messages: `api key not valid` there is the
    /// client's text, not a verdict on the key.
    @Test func aGeminiModelOrFieldNamedLikeAKeyErrorInvalidatesNoKey() async throws {
        try await withNode { node in
            let id = try await node.createConfig(slug: "gem-echo", format: "gemini_native", base: node.mock.baseURL)
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "gm-echo"))
            let headers = [("x-goog-api-key", TestNode.proxyKey)]
            let body = #"{"contents":[{"parts":[{"text":"hi"}]}]}"#
            for _ in 0..<4 {
                let model = try await node.proxy("gem-echo", "/v1beta/models/api%20key%20not%20valid:generateContent", body: body, headers: headers)
                #expect(model.status == 404, "\(model.text)")
                let field = try await node.proxy("gem-echo", "/v1beta/models/gemini-flash:generateContent",
                                                 body: #"{"contents":[{"parts":[{"text":"hi"}]}],"api key not valid":1}"#, headers: headers)
                #expect(field.status == 400, "\(field.text)")
            }
            #expect(try await statuses(node, id) == ["active", "active"])
            let served = try await node.proxy("gem-echo", "/v1beta/models/gemini-flash:generateContent", body: body, headers: headers)
            #expect(served.status == 200, "\(served.text)")
        }
    }

    /// Anthropic repeats an unknown `anthropic-beta` value and an extra field's name in its 400: `credit balance is
    /// too low` there rests no key.
    @Test func anAnthropicBetaOrFieldSayingCreditBalanceRestsNoKey() async throws {
        try await withNode { node in
            let id = try await node.createConfig(slug: "claude-echo", format: "anthropic_native")
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "sk-ant-echo"))
            let headers = [("x-api-key", TestNode.proxyKey), ("anthropic-version", "2023-06-01")]
            let message = #"{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#
            let beta = try await node.proxy("claude-echo", "/v1/messages", body: message,
                                            headers: headers + [("anthropic-beta", "credit balance is too low")])
            #expect(beta.status == 400, "\(beta.text)")
            let field = try await node.proxy("claude-echo", "/v1/messages",
                                             body: #"{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"credit balance is too low":1}"#,
                                             headers: headers)
            #expect(field.status == 400, "\(field.text)")
            #expect(try await statuses(node, id) == ["active", "active"])
            let served = try await node.proxy("claude-echo", "/v1/messages", body: message, headers: headers)
            #expect(served.status == 200, "\(served.text)")

            // Through a converting config too: an OpenAI client in front of Anthropic sends the same header.
            let converting = try await node.createConfig(slug: "claude-conv", format: "anthropic_native", extra: #","output_format":"openai""#)
            try await node.addKeys(configID: converting, sampleKeys(2, prefix: "sk-ant-conv"))
            for _ in 0..<2 {
                let echoed = try await node.proxy("claude-conv", body: chat("claude-x"),
                                                  headers: [("Authorization", "Bearer \(TestNode.proxyKey)"), ("anthropic-beta", "credit balance is too low")])
                #expect(echoed.status == 400, "\(echoed.text)")
            }
            #expect(try await statuses(node, converting) == ["active", "active"])
            #expect(try await node.proxy("claude-conv", body: chat("claude-x")).status == 200)
        }
    }

    /// A request larger than the key's per-minute input tokens is the request's fault: the client gets the answer,
    /// no key rests.
    @Test func anAnthropicRequestOverTheTokenLimitRestsNoKey() async throws {
        try await withNode { node in
            let id = try await node.createConfig(slug: "claude-big", format: "anthropic_native")
            try await node.addKeys(configID: id, sampleKeys(4, prefix: "sk-ant-big"))
            node.mockState.setDefaultProfile(KeyProfile(modelLimits: ["claude-big": ModelLimit(kind: .requestTooLarge)]))
            let headers = [("x-api-key", TestNode.proxyKey), ("anthropic-version", "2023-06-01")]
            let big = try await node.proxy("claude-big", "/v1/messages", body: #"{"model":"claude-big","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
                                           headers: headers)
            #expect(big.status == 429, "\(big.text)")
            #expect(node.mockState.totalCounters().requests == 2, "two keys agree, then the client has the answer")
            #expect(try await statuses(node, id).allSatisfy { $0 == "active" })
            let tooLarge = try await node.proxy("claude-big", "/v1/messages", body: #"{"model":"claude-y","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
                                                headers: headers + [("x-mock-status", "413")])
            #expect(tooLarge.status == 413, "\(tooLarge.text)")
            #expect(node.mockState.totalCounters().requests == 3, "a 413 is answered after one call")
            #expect(try await statuses(node, id).allSatisfy { $0 == "active" })
        }
    }

    /// A generic endpoint answering `429 Retry-After: 3600` to everything: one client request tries at most
    /// `RATE_LIMIT_MAX_KEYS` (3) keys and answers 429 with the soonest wait; the other keys keep serving.
    @Test func oneRequestAgainstAnHourLong429TriesAtMostThreeKeys() async throws {
        try await withNode { node in
            let reply = try await node.admin(.POST, "/admin/proxy-configs", body: """
                {"name":"storm","slug":"storm","config_type":"generic","target_url":"\(node.mock.baseURL)/api","api_key_location":"header","api_key_name":"X-Api-Key"}
                """)
            #expect(reply.status == 201, "\(reply.text)")
            let id = try #require(try reply.object()["id"] as? Int)
            try await node.addKeys(configID: id, sampleKeys(10, prefix: "gen-storm"))
            node.mockState.setDefaultProfile(KeyProfile(forceRateLimitRetryAfter: 3600))
            let answer = try await node.send(.GET, "/proxy/storm/items", headers: [("X-Proxy-Key", TestNode.proxyKey)])
            #expect(answer.status == 429, "\(answer.text)")
            let retryAfter = answer.headers.first(name: "retry-after").flatMap(Int.init) ?? 0
            #expect(retryAfter > 3500 && retryAfter <= 3600, "the soonest wait the keys were given: \(retryAfter)")
            #expect(node.mockState.totalCounters().requests == 3, "one request calls at most three keys")
            let statuses = try await statuses(node, id)
            #expect(statuses.filter { $0 == "active" }.count == 7, "\(statuses)")
        }
    }
}
