import Foundation
import MockUpstream
import Testing

/// Issue 18: the official SDKs (openai, anthropic, google-genai) meet every client-key refusal as their own error type
/// with a readable message — rpm and request budget 429, revoked/disabled/expired 401, config and model not allowed
/// 403 — and retry a 429 whose Retry-After frees in time (one request at a time, a slow stream in flight).
@Suite(.serialized, PythonSDKScript.enabledWhenConfigured) struct ClientKeySDKTests {
    @Test func everyRefusalIsTheSDKsOwnErrorAndRetryAfterIsHonoured() async throws {
        let python = try PythonSDKScript.interpreter()
        // Slow streams: 4 pieces 500 ms apart hold a max_concurrent 1 key's slot about 1.5 s.
        let state = MockUpstreamState(defaultProfile: KeyProfile(streamChunks: 4, chunkDelayMilliseconds: 500))
        try await withRunningNode(mockState: state) { node in
            let openAI = try await node.createConfig(slug: "ck-oai", base: node.mock.baseURL + "/v1")
            let anthropic = try await node.createConfig(slug: "ck-ant", format: "anthropic_native", base: node.mock.baseURL + "/v1")
            let gemini = try await node.createConfig(slug: "ck-gem", format: "gemini_native", base: node.mock.baseURL + "/v1beta")
            _ = try await node.createConfig(slug: "elsewhere")
            for (id, prefix) in [(openAI, "sk-ckoai"), (anthropic, "sk-ckant"), (gemini, "gm-ckgem")] {
                try await node.addKeys(configID: id, sampleKeys(2, prefix: prefix))
            }

            // The rpm and the daily request budget are spent before the SDKs come (one request each).
            let rpm = try await node.createClientKey(#"{"name":"sdk-rpm","rpm":1}"#)
            let daily = try await node.createClientKey(#"{"name":"sdk-daily","daily_requests":1}"#)
            for key in [rpm, daily] {
                let spent = try await node.proxy("ck-oai", headers: [("Authorization", "Bearer \(key.secret)")])
                #expect(spent.status == 200, "\(spent.text)")
            }
            let revoked = try await node.createClientKey(#"{"name":"sdk-revoked"}"#)
            let deleted = try await node.admin(.DELETE, "/admin/client-keys/\(revoked.id)")
            #expect(deleted.status == 204, "\(deleted.text)")
            let disabled = try await node.createClientKey(#"{"name":"sdk-disabled","enabled":false}"#)
            let expiry = ISO8601DateFormatter().string(from: Date().addingTimeInterval(2))
            let expired = try await node.createClientKey(#"{"name":"sdk-expired","expires_at":"\#(expiry)"}"#)
            let otherConfig = try await node.createClientKey(#"{"name":"sdk-config","allowed_configs":["elsewhere"]}"#)
            let otherModel = try await node.createClientKey(#"{"name":"sdk-model","allowed_models":["allowed-only*"]}"#)
            var retryKeys: [String: String] = [:]
            for sdk in ["openai", "anthropic", "gemini"] {
                retryKeys[sdk] = try await node.createClientKey(#"{"name":"sdk-retry-\#(sdk)","max_concurrent":1}"#).secret
            }
            // Until the expiry has passed for the node (a signal, not a fixed wait).
            let deadline = ContinuousClock.now + .seconds(20)
            while try await node.proxy("ck-oai", headers: [("Authorization", "Bearer \(expired.secret)")]).status != 401, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }

            let refusals: [[String: Any]] = [
                ["name": "rpm", "key": rpm.secret, "status": 429, "says": ["rpm", "per minute"]],
                ["name": "daily_requests", "key": daily.secret, "status": 429, "says": ["daily_requests", "daily", "per day"]],
                ["name": "revoked", "key": revoked.secret, "status": 401, "says": ["revoked"]],
                ["name": "disabled", "key": disabled.secret, "status": 401, "says": ["disabled"]],
                ["name": "expired", "key": expired.secret, "status": 401, "says": ["expired"]],
                ["name": "config not allowed", "key": otherConfig.secret, "status": 403, "says": ["config", "ck-"]],
                ["name": "model not allowed", "key": otherModel.secret, "status": 403, "says": ["model"]],
            ]
            let plan: [String: Any] = [
                "sdks": [
                    "openai": ["base": node.baseURL + "/llm/ck-oai/v1", "model": "gpt-4o"],
                    "anthropic": ["base": node.baseURL + "/llm/ck-ant", "model": "claude-sonnet-4-5"],
                    "gemini": ["base": node.baseURL + "/llm/ck-gem", "model": "gemini-2.5-flash"],
                ],
                "refusals": refusals,
                "retry_keys": retryKeys,
            ]
            let planFile = node.directory + "/sdk-plan.json"
            try JSONSerialization.data(withJSONObject: plan).write(to: URL(fileURLWithPath: planFile))
            let run = try await PythonSDKScript.runScript("sdk_client_key_refusals.py", python: python, arguments: [planFile])
            print("sdk_client_key_refusals.py:\n\(run.output)")
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("checks passed"))
            #expect(!run.output.contains(rpm.secret), "no secret in what the SDKs print")
        }
    }
}

struct NodeClientKey: Sendable {
    var id: Int
    var secret: String
}

extension TestNode {
    /// `POST /admin/client-keys`: the 201 carries the whole secret in `key`, this once.
    func createClientKey(_ fields: String) async throws -> NodeClientKey {
        let reply = try await admin(.POST, "/admin/client-keys", body: fields)
        #expect(reply.status == 201, "create client key: \(reply.text)")
        let object = try reply.object()
        return NodeClientKey(id: try #require(object["id"] as? Int, "\(reply.text)"), secret: try #require(object["key"] as? String, "\(reply.text)"))
    }
}
