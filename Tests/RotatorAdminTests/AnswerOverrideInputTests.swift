import Foundation
@testable import RotatorAdmin
import RotatorCore
import Testing

@Suite struct AnswerOverrideInputTests {
    private func draft(_ extra: String, over base: ProxyConfig? = nil) throws -> ProxyConfigDraft {
        let json = #"{"name":"OR","slug":"openrouter","target_base_url":"https://openrouter.ai/api/v1"\#(extra)}"#
        return try JSONDecoder().decode(ProxyConfigInput.self, from: Data(json.utf8)).draft(over: base)
    }

    @Test func acceptsOverridesAndFlags() throws {
        let parsed = try draft(#","answer_overrides":[{"status":400,"body_contains":"token expired","blame":"key_invalid"},{"status":418,"blame":"upstream"}],"retry_after_read_timeout":true,"forward_billing_headers":true"#)
        #expect(parsed.answerOverrides == [
            AnswerOverride(status: 400, bodyContains: "token expired", blame: .keyInvalid),
            AnswerOverride(status: 418, bodyContains: nil, blame: .upstream),
        ])
        #expect(parsed.retryAfterReadTimeout)
        #expect(parsed.forwardBillingHeaders)
        let defaults = try draft("")
        #expect(defaults.answerOverrides.isEmpty)
        #expect(!defaults.retryAfterReadTimeout)
        #expect(!defaults.forwardBillingHeaders, "billing headers are dropped unless the admin allows them")
    }

    @Test func aPutWithoutTheFieldsKeepsThem() throws {
        let base = ProxyConfig(
            id: 1, name: "OR", slug: "openrouter", configType: .llm, apiKeyLocation: .header, apiKeyName: "Authorization", isActive: true,
            method: nil, targetURL: nil, targetBaseURL: "https://openrouter.ai/api/v1", apiFormat: .openAICompatible, outputFormat: nil, keyRPM: 0,
            createdAt: Date(), updatedAt: Date(), version: 1, answerOverrides: [AnswerOverride(status: 402, bodyContains: nil, blame: .keyExhausted)],
            retryAfterReadTimeout: true, forwardBillingHeaders: true
        )
        let kept = try draft("", over: base)
        #expect(kept.answerOverrides == base.answerOverrides)
        #expect(kept.retryAfterReadTimeout)
        #expect(kept.forwardBillingHeaders)
        #expect(try draft(#","answer_overrides":[]"#, over: base).answerOverrides.isEmpty, "an empty list clears them")
    }

    @Test(arguments: [
        (#","answer_overrides":[{"status":400}]"#, "answer_overrides[0].blame"),
        (#","answer_overrides":[{"status":400,"blame":"nobody"}]"#, "answer_overrides[0].blame"),
        (#","answer_overrides":[{"blame":"request"}]"#, "answer_overrides[0]"),
        (#","answer_overrides":[{"status":400,"body_contains":"","blame":"request"}]"#, "answer_overrides[0].body_contains"),
        (#","answer_overrides":[{"status":400,"blame":"KEY_INVALID"}]"#, "answer_overrides[0].blame"),
        (#","answer_overrides":[{"status":99,"blame":"request"}]"#, "answer_overrides[0].status"),
        (#","answer_overrides":[{"status":400,"blame":"request"},{"status":600,"blame":"request"}]"#, "answer_overrides[1].status"),
    ])
    func refusesBadOverridesNamingTheField(extra: String, field: String) throws {
        do {
            _ = try draft(extra)
            Issue.record("accepted \(extra)")
        } catch let error as ValidationError {
            #expect(error.message.contains("'\(field)"), "\(error.message)")
        }
    }

    @Test func boundsCountAndLength() throws {
        let many = (0...AnswerOverride.maximumCount).map { _ in #"{"status":400,"blame":"request"}"# }.joined(separator: ",")
        #expect(throws: ValidationError.self) { try draft(#","answer_overrides":[\#(many)]"#) }
        let long = String(repeating: "x", count: AnswerOverride.maximumTextLength + 1)
        #expect(throws: ValidationError.self) { try draft(#","answer_overrides":[{"body_contains":"\#(long)","blame":"request"}]"#) }
    }
}
