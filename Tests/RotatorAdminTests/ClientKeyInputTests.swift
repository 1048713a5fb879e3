import ClientAccess
import Foundation
@testable import RotatorAdmin
import RotatorHTTP
import RotatorStore
import Testing

/// The client-key body's rules as a value: what a POST and a PUT make of it, and the view every answer shows.
@Suite struct ClientKeyInputTests {
    private func input(_ json: String) throws -> ClientKeyInput {
        try JSONDecoder().decode(ClientKeyInput.self, from: Data(json.utf8))
    }

    static let stored = ClientKey(
        id: 7, name: "team-a", note: "note", allowedConfigs: ["openai"], allowedModels: [.prefix("gpt-4o")],
        limits: ClientKeyLimits(rpm: 60, maxConcurrent: 5), secretHash: ClientKeyHash(bytes: Array(repeating: 1, count: 32)), secretHint: "rk-Ab…xY9z"
    )

    @Test func aPutKeepsWhatItLeavesOutAndClearsWhatIsNull() throws {
        let draft = try input(#"{"rpm":null,"note":null,"tpm":1000,"allowed_models":["claude*"]}"#).draft(over: Self.stored, knownSlugs: ["openai"])
        #expect(draft.name == "team-a" && draft.note == nil && draft.allowedConfigs == ["openai"])
        #expect(draft.allowedModels == [.prefix("claude")])
        #expect(draft.limits == ClientKeyLimits(tpm: 1000, maxConcurrent: 5))
    }

    @Test func aPostNeedsANameAndTakesZeroAsNoLimit() throws {
        let draft = try input(#"{"name":"  team-b ","rpm":0,"allowed_configs":["openai","openai"],"expires_at":"2030-01-02T03:04:05.5Z"}"#)
            .draft(over: nil, knownSlugs: ["openai"])
        #expect(draft.name == "team-b" && draft.enabled && draft.limits.isEmpty)
        #expect(draft.allowedConfigs == ["openai"], "listed once")
        #expect(draft.expiresAt == Date(timeIntervalSince1970: 1_893_553_445.5))
        #expect(throws: ValidationError.self) { try input(#"{"note":"x"}"#).draft(over: nil, knownSlugs: []) }
    }

    @Test func unknownFieldsAreRefusedNotIgnored() {
        #expect(throws: APIError.self) { try input(#"{"name":"a","max_concurent":5}"#) }
        #expect(throws: APIError.self) { try JSONDecoder().decode(RotateInput.self, from: Data(#"{"grace":5}"#.utf8)) }
    }

    @Test func theViewMasksAndSaysTheStatus() throws {
        let now = Date(timeIntervalSince1970: 2_000_000_000)
        var key = Self.stored
        key.expiresAt = now.addingTimeInterval(-1)
        key.previousSecretHash = ClientKeyHash(bytes: Array(repeating: 2, count: 32))
        key.previousSecretValidUntil = now.addingTimeInterval(60)
        let usage = ClientKeyUsageView(limits: [LimitStateView(LimitState(limit: .rpm, value: 60, remaining: 48, resetSeconds: 31.5))])
        let view = ClientKeyView(key, now: now, usage: usage)
        #expect(view.key == "rk-Ab…xY9z" && view.status == "expired" && view.previous_key_valid_until != nil)
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(view)) as? [String: Any])
        let limits = try #require((json["usage"] as? [String: Any])?["limits"] as? [[String: Any]])
        #expect(limits.first?["limit"] as? String == "rpm" && limits.first?["used"] as? Int == 12 && limits.first?["remaining"] as? Int == 48)
        #expect(json["tpm"] is NSNull, "every limit is in the answer, null when none")
        key.enabled = false
        #expect(ClientKeyView(key, now: now).status == "disabled")
        let plain = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(ClientKeyView(Self.stored))) as? [String: Any])
        #expect(plain["usage"] == nil, "no quota wired: no usage")
    }
}
