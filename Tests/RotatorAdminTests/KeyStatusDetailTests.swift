import Foundation
import KeyCoordination
import NIOCore
import NIOHTTP1
@testable import RotatorAdmin
import RotatorCore
import Testing
import TrafficStats
import UpstreamProviders

@Suite struct KeyStatusDetailTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func record(active: Bool = true, invalid: Bool = false, lastError: String? = nil) -> APIKeyRecord {
        APIKeyRecord(id: 4, proxyConfigID: 1, maskedValue: "sk-…abcd", isActive: active, isInvalid: invalid, requestCount: 0, errorCount: 0,
                     lastUsedAt: nil, lastError: lastError, createdAt: now, updatedAt: now.addingTimeInterval(-30))
    }

    @Test func aServingKeyNeedsNoExplanation() {
        #expect(KeyStatusDetail.explain(Self.record(), runtime: nil, events: [], now: Self.now) == nil)
        let over = KeyRuntimeState(coolingUntil: Self.now.timeIntervalSince1970 - 1, consecutiveRejections: 0)
        #expect(KeyStatusDetail.explain(Self.record(), runtime: over, events: [], now: Self.now) == nil)
    }

    @Test func coolingSaysWhetherTheProviderGaveTheTime() throws {
        let t = Self.now.timeIntervalSince1970
        let runtime = KeyRuntimeState(coolingUntil: t + 40, consecutiveRejections: 0)
        let hinted = KeyEvent(kind: .rateLimited, keyID: 4, at: t - 20, until: t + 40, source: .providerHint, status: 429)
        let detail = try #require(KeyStatusDetail.explain(Self.record(), runtime: runtime, events: [hinted], now: Self.now))
        #expect(detail.reason == .cooling)
        #expect(detail.cause == "provider_reset_hint")
        #expect(detail.summary.contains("the provider's reset hint"))
        var fallback = hinted
        fallback.source = .defaultCooldown
        let other = try #require(KeyStatusDetail.explain(Self.record(), runtime: runtime, events: [fallback], now: Self.now))
        #expect(other.cause == "default_cooldown")
        // Another node cooled it (no event here): the time is still known, the why is not.
        let unknown = try #require(KeyStatusDetail.explain(Self.record(), runtime: runtime, events: [], now: Self.now))
        #expect(unknown.cause == nil && unknown.until != nil)
    }

    @Test func quarantineNamesTheAnswer() throws {
        let t = Self.now.timeIntervalSince1970
        let runtime = KeyRuntimeState(coolingUntil: t + 5, consecutiveRejections: 1)
        let event = KeyEvent(kind: .quarantined, keyID: 4, at: t - 5, until: t + 5, status: 403, message: "permission denied")
        let detail = try #require(KeyStatusDetail.explain(Self.record(), runtime: runtime, events: [event], now: Self.now))
        #expect(detail.reason == .quarantined)
        #expect(detail.upstream_status == 403)
        #expect(detail.message == "permission denied")
        #expect(detail.summary.hasPrefix("Quarantined until"))
    }

    @Test func invalidCountsTheRejectionsInARow() throws {
        let t = Self.now.timeIntervalSince1970
        let events = [
            KeyEvent(kind: .rateLimited, keyID: 4, at: t - 100, until: t - 40, source: .providerHint, status: 429),
            KeyEvent(kind: .quarantined, keyID: 4, at: t - 30, until: t - 28, status: 401, message: "bad key"),
            KeyEvent(kind: .quarantined, keyID: 4, at: t - 20, until: t - 10, status: 401, message: "bad key"),
            KeyEvent(kind: .invalidated, keyID: 4, at: t - 5, until: nil, status: 401, message: "bad key"),
        ]
        let detail = try #require(KeyStatusDetail.explain(Self.record(invalid: true), runtime: nil, events: events, now: Self.now))
        #expect(detail.reason == .invalid)
        #expect(detail.rejections.count == 3, "the 429 before them is not a rejection")
        #expect(detail.summary.contains("3 times in a row (401): bad key"))
        // After a restart the events are gone: the store's record still explains it.
        let bare = try #require(KeyStatusDetail.explain(Self.record(invalid: true, lastError: "upstream answered 401 repeatedly"), runtime: nil,
                                                        events: [], now: Self.now))
        #expect(bare.message == "upstream answered 401 repeatedly")
        #expect(bare.since != nil)
    }

    @Test func exhaustedSaysUntilWhenAndWhy() throws {
        let t = Self.now.timeIntervalSince1970
        let runtime = KeyRuntimeState(coolingUntil: t + 3600, consecutiveRejections: 0, quotaExhaustedUntil: t + 3600)
        let event = KeyEvent(kind: .quotaExhausted, keyID: 4, at: t - 5, until: t + 3600, status: 429, message: "You exceeded your current quota")
        let detail = try #require(KeyStatusDetail.explain(Self.record(), runtime: runtime, events: [event], now: Self.now))
        #expect(detail.reason == .exhausted)
        #expect(detail.cause == "quota_exhausted")
        #expect(detail.message == "You exceeded your current quota")
        #expect(detail.summary.hasPrefix("Out of credit or quota until"))
    }

    @Test func disabledWins() throws {
        let detail = try #require(KeyStatusDetail.explain(Self.record(active: false, invalid: true), runtime: nil, events: [], now: Self.now))
        #expect(detail.reason == .disabled)
        #expect(detail.cause == "admin")
    }
}

@Suite struct KeyListCSVTests {
    @Test func quotesAndDefusesCells() {
        #expect(KeyListCSV.cell("plain") == "plain")
        #expect(KeyListCSV.cell("a,b") == "\"a,b\"")
        #expect(KeyListCSV.cell("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(KeyListCSV.cell("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(KeyListCSV.cell("-1") == "'-1")
        #expect(KeyListCSV.cell("line\nbreak") == "\"line\nbreak\"")
    }
}

@Suite struct KeyProbeRequestTests {
    static func config(_ format: APIFormat, base: String, type: ConfigType = .llm) -> ProxyConfig {
        ProxyConfig(id: 1, name: "p", slug: "p", configType: type, apiKeyLocation: .header, apiKeyName: "Authorization", isActive: true,
                    method: nil, targetURL: type == .generic ? base : nil, targetBaseURL: type == .llm ? base : nil, apiFormat: format,
                    outputFormat: nil, keyRPM: 0, createdAt: Date(), updatedAt: Date(), version: 1)
    }

    @Test func eachFormatAsksItsModelsList() throws {
        let openAI = try #require(KeyProbeRequest(config: Self.config(.openAICompatible, base: "https://openrouter.ai/api/v1"), secret: "sk-1"))
        #expect(openAI.url == "https://openrouter.ai/api/v1/models")
        #expect(openAI.headers["Authorization"] == ["Bearer sk-1"])
        #expect(openAI.endpoint == "GET /api/v1/models")
        let anthropic = try #require(KeyProbeRequest(config: Self.config(.anthropicNative, base: "https://api.anthropic.com"), secret: "sk-ant"))
        #expect(anthropic.url == "https://api.anthropic.com/v1/models")
        #expect(anthropic.headers["x-api-key"] == ["sk-ant"])
        #expect(anthropic.headers["anthropic-version"].count == 1)
        #expect(anthropic.headers["Authorization"].isEmpty)
        let gemini = try #require(KeyProbeRequest(config: Self.config(.geminiNative, base: "https://generativelanguage.googleapis.com"), secret: "AIza"))
        #expect(gemini.url == "https://generativelanguage.googleapis.com/v1beta/models")
        #expect(gemini.headers["x-goog-api-key"] == ["AIza"])
        #expect(!gemini.url.contains("AIza"), "the key never goes into the URL")
        for base in ["https://generativelanguage.googleapis.com/v1", "https://generativelanguage.googleapis.com/v1beta"] {
            let pinned = try #require(KeyProbeRequest(config: Self.config(.geminiNative, base: base), secret: "AIza"))
            #expect(pinned.url == "https://generativelanguage.googleapis.com/v1beta/models", "one version segment, never /v1/v1beta")
        }
        #expect(KeyProbeRequest(config: Self.config(.openAICompatible, base: "https://x.io", type: .generic), secret: "k") == nil)
    }

    private func outcome(_ status: Int, _ body: String = "", format: APIFormat = .openAICompatible) -> KeyCheckOutcome {
        let answer = UpstreamAnswerClassifier(dialect: UpstreamDialect(format: format))
            .classify(status: status, headers: [:], body: ByteBuffer(string: body), now: Date())
        return KeyCheckOutcome(answer)
    }

    @Test func outcomesFollowTheStatus() {
        #expect(outcome(200) == .ok)
        #expect(outcome(401) == .rejected)
        #expect(outcome(403) == .rejected)
        #expect(outcome(429) == .rateLimited)
        #expect(outcome(500) == .error)
    }

    /// The check judges an answer as the relay does: Google answers a bad key with 400 `API_KEY_INVALID`, which the
    /// status alone called "error".
    @Test func outcomesFollowTheProvidersCodes() {
        let badGeminiKey = #"""
            {"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
            "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}
            """#
        #expect(outcome(400, badGeminiKey, format: .geminiNative) == .rejected)
        #expect(outcome(400, #"{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}"#, format: .geminiNative) == .error)
        let noCredit = #"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#
        #expect(outcome(429, noCredit) == .rateLimited)
    }
}
