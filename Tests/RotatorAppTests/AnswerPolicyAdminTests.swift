import Foundation
import KeyCoordination
import MockUpstream
import Testing

/// The answer policy and the pool's cooling through the admin API of a running node: input, store, view.
@Suite(.serialized) struct AnswerPolicyAdminTests {
    @Test func overridesFlagsAndPoolCoolingAreShown() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "policy", extra: """
                ,"answer_overrides":[{"status":400,"body_contains":"token expired","blame":"key_invalid"}],"retry_after_read_timeout":true
                """)
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "sk-policy"))
            var view = try await node.admin(.GET, "/admin/proxy-configs/\(id)").object()
            let overrides = try #require(view["answer_overrides"] as? [[String: Any]])
            #expect(overrides.count == 1)
            #expect(overrides.first?["blame"] as? String == "key_invalid")
            #expect(overrides.first?["body_contains"] as? String == "token expired")
            #expect(view["retry_after_read_timeout"] as? Bool == true)
            #expect(view["forward_billing_headers"] as? Bool == false)
            #expect(view["pool_cooling_until"] is NSNull, "a fixed shape: null when the pool is not cooling")

            await node.node.coordinator.coolPool(pool: Int64(id), seconds: 120, reason: "2 of 2 keys rate limited within 10 s")
            view = try await node.admin(.GET, "/admin/proxy-configs/\(id)").object()
            #expect(view["pool_cooling_reason"] as? String == "2 of 2 keys rate limited within 10 s")
            #expect(view["pool_cooling_until"] as? String != nil)
            // The pool rests: clients get a 429 with the pool's wait.
            let reply = try await node.proxy("policy")
            #expect(reply.status == 429, "\(reply.text)")

            // A PUT without the fields keeps them; bad overrides are refused naming the field.
            let renamed = try await node.admin(.PUT, "/admin/proxy-configs/\(id)", body: #"{"name":"renamed"}"#).object()
            #expect((renamed["answer_overrides"] as? [[String: Any]])?.count == 1)
            let bad = try await node.admin(.PUT, "/admin/proxy-configs/\(id)", body: #"{"answer_overrides":[{"blame":"request"}]}"#)
            #expect(bad.status == 422, "\(bad.text)")
            #expect(bad.text.contains("answer_overrides[0]"))
        }
    }

    @Test func exhaustedKeysShowTheirOwnStatus() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "exhausted")
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "sk-exh"))
            let keyID = try #require(try await node.keys(configID: id).first?["id"] as? Int)
            await node.node.coordinator.report(.quotaExhausted(cooldown: 3600, reason: "openai insufficient_quota"), key: Int64(keyID), pool: Int64(id))
            let statuses = try await node.keys(configID: id).map { $0["status"] as? String ?? "?" }
            #expect(statuses == ["exhausted", "active"], "\(statuses)")
        }
    }

    /// A key the provider says has no money left rests for `QUOTA_COOLDOWN_SECONDS`; the other key serves meanwhile.
    @Test func anExhaustedKeyRestsForTheQuotaCooldown() async throws {
        try await withRunningNode(environment: ["QUOTA_COOLDOWN_SECONDS": "7200"]) { node in
            let id = try await node.createConfig(slug: "quota")
            let keys = sampleKeys(2, prefix: "sk-quota")
            try await node.addKeys(configID: id, keys)
            node.mockState.setProfile(KeyProfile(failureStatus: 402), forKey: keys[0])
            for _ in 0..<2 { #expect(try await node.proxy("quota").status == 200) }
            let exhausted = try #require(try await node.keys(configID: id).first)
            #expect(exhausted["status"] as? String == "exhausted", "\(exhausted)")
            let until = try #require((exhausted["cooldown_until"] as? String).flatMap { try? Date($0, strategy: .iso8601) }, "\(exhausted)")
            let rest = until.timeIntervalSinceNow
            #expect(rest > 7000 && rest <= 7200, "rests about two hours, not the default hour: \(rest) s")
        }
    }
}
