import Foundation
import MockUpstream
import NIOHTTP1
import RotatorAdmin
import Testing

@Suite(.serialized) struct AdminAPITests {
    /// Every admin route (from the same list the router registers) is documented, and every one but login
    /// and app-config refuses a request without a token.
    @Test func everyRouteIsDocumentedAndGuarded() async throws {
        try await withRunningNode { node in
            let document = try await node.admin(.GET, "/admin/openapi.json").object()
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let routes = try await node.node.adminRoutes()
            #expect(routes.count >= 15)
            for route in routes {
                let operations = try #require(paths[route.path], "\(route.path) missing from openapi.json")
                #expect(operations[route.method.rawValue.lowercased()] != nil, "\(route.method) \(route.path) missing from openapi.json")
                let concretePath = route.path.replacingOccurrences(of: "{id}", with: "1")
                let anonymous = try await node.send(HTTPMethod(rawValue: route.method.rawValue), concretePath, body: "{}")
                if route.requiresToken {
                    #expect(anonymous.status == 401, "\(route.method) \(route.path) answered \(anonymous.status) without a token")
                    let forged = try await node.send(HTTPMethod(rawValue: route.method.rawValue), concretePath,
                                                     headers: [("Authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.")], body: "{}")
                    #expect(forged.status == 401)
                } else {
                    #expect(anonymous.status != 401 || route.path == "/admin/login")
                }
            }
            // And nothing in the document that the router does not serve.
            let served = Set(routes.map { "\($0.method.rawValue.lowercased()) \($0.path)" })
            for (path, operations) in paths {
                for method in operations.keys {
                    #expect(served.contains("\(method) \(path)"), "\(method) \(path) documented but not routed")
                }
            }
        }
    }

    @Test func loginRejectsBadCredentialsAndSlowsGuessing() async throws {
        try await withRunningNode { node in
            var statuses: [Int] = []
            for _ in 0..<7 {
                statuses.append(try await node.send(.POST, "/admin/login", body: #"{"username":"admin","password":"guess"}"#).status)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == 401 })
            #expect(statuses.last == 429, "\(statuses)")
            let locked = try await node.send(.POST, "/admin/login", body: #"{"username":"admin","password":"guess"}"#)
            #expect(locked.headers.first(name: "retry-after") != nil)
            #expect(try await node.send(.POST, "/admin/login", body: #"{"username":"admin"}"#).status != 200)
            let config = try await node.send(.GET, "/admin/app-config")
            #expect(config.status == 200)
            #expect(try config.object()["proxy_public_base_url"] as? String == "http://localhost:1", "defaults to this node's port")
        }
    }

    @Test func configLifecycleAndErrors() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "life")
            let duplicate = try await node.admin(.POST, "/admin/proxy-configs", body: #"{"name":"x","slug":"life","target_base_url":"https://x.io"}"#)
            #expect(duplicate.status == 409)
            #expect(try duplicate.object()["error"] is String)
            #expect(try await node.admin(.POST, "/admin/proxy-configs", body: #"{"name":"x","slug":"UPPER","target_base_url":"https://x.io"}"#).status == 422)
            #expect(try await node.admin(.POST, "/admin/proxy-configs", body: #"{"name":5}"#).status == 422)
            #expect(try await node.admin(.POST, "/admin/proxy-configs", body: "not json").status == 400)
            #expect(try await node.admin(.GET, "/admin/proxy-configs/999").status == 404)
            #expect(try await node.admin(.GET, "/admin/proxy-configs/abc").status == 404)

            let updated = try await node.admin(.PUT, "/admin/proxy-configs/\(id)", body: #"{"name":"Renamed","config_type":"LLM","key_rpm":120}"#)
            #expect(updated.status == 200, "\(updated.text)")
            let body = try updated.object()
            #expect(body["name"] as? String == "Renamed")
            #expect(body["config_type"] as? String == "llm")
            #expect(body["key_rpm"] as? Int == 120)
            #expect(body["slug"] as? String == "life")
            let list = try await node.admin(.GET, "/admin/proxy-configs").array()
            #expect(list.count == 1)
            #expect(Set(list[0].keys).isSuperset(of: [
                "id", "name", "slug", "config_type", "api_key_location", "api_key_name", "is_active", "method", "target_url", "target_base_url",
                "api_format", "output_format", "key_rpm", "created_at", "updated_at", "api_keys",
            ]))
            #expect(try await node.admin(.DELETE, "/admin/proxy-configs/\(id)").status == 200)
            #expect(try await node.admin(.GET, "/admin/proxy-configs/\(id)").status == 404)
            #expect(try await node.proxy("life").status == 404, "a deleted config stops serving at once")
        }
    }

    @Test func keysAreMaskedEverywhere() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "mask")
            let secret = "sk-or-v1-secretsecretsecret9f2a"
            let added = try await node.admin(.POST, "/admin/proxy-configs/\(id)/keys", body: #"{"key_value":"\#(secret)"}"#)
            #expect(added.status == 201)
            #expect(try added.object()["key_value"] as? String == "sk-…9f2a")
            #expect(try await node.admin(.POST, "/admin/proxy-configs/\(id)/keys", body: #"{"key_value":"\#(secret)"}"#).status == 409)
            #expect(try await node.admin(.POST, "/admin/proxy-configs/\(id)/keys", body: #"{"key_value":"   "}"#).status == 422)
            for path in ["/admin/proxy-configs", "/admin/proxy-configs/\(id)", "/admin/proxy-configs/\(id)/keys"] {
                let reply = try await node.admin(.GET, path)
                #expect(!reply.text.contains(secret), "\(path) leaked a key")
                #expect(!reply.text.contains("secretsecret"))
            }
            let keyID = try #require(try added.object()["id"] as? Int)
            let disabled = try await node.admin(.PATCH, "/admin/keys/\(keyID)", body: #"{"is_active":false}"#)
            #expect(try disabled.object()["status"] as? String == "disabled")
            #expect(try await node.proxy("mask").status == 503, "a disabled key is not used")
            #expect(try await node.admin(.DELETE, "/admin/keys/\(keyID)").status == 200)
            #expect(try await node.admin(.DELETE, "/admin/keys/\(keyID)").status == 404)
        }
    }

    /// Batch import and single add apply one rule: what one refuses, the other refuses too.
    @Test func batchImportRefusesWhatSingleAddRefuses() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "onerule")
            let refused = ["sk-ключ-0123456789", "sk-zero\u{200B}width-0123", "sk-tab\there-0123", "sk-ok-\u{00A0}nbsp-0123"]
            for secret in refused + ["sk-" + String(repeating: "x", count: 4094)] {
                let body = String(data: try JSONSerialization.data(withJSONObject: ["key_value": secret]), encoding: .utf8)
                #expect(try await node.admin(.POST, "/admin/proxy-configs/\(id)/keys", body: body).status == 422, "single add took \(secret.prefix(20))")
            }
            let batch = try await node.admin(.POST, "/admin/proxy-configs/\(id)/keys/batch",
                                             body: String(data: try JSONSerialization.data(withJSONObject: ["keys": refused + ["sk-fine-0123456789"]]), encoding: .utf8))
            let result = try batch.object()
            #expect(result["success_count"] as? Int == 1, "\(batch.text)")
            #expect(result["failed_count"] as? Int == refused.count, "\(batch.text)")
            #expect(try await node.admin(.GET, "/admin/proxy-configs/\(id)/keys").array().count == 1)
        }
    }

    @Test func batchImportOfTenThousandKeys() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "bulk")
            var keys = (0..<10_000).map { "sk-bulk-\($0)-0123456789abcdef" }
            keys += ["", "sk-bulk-5-0123456789abcdef"]
            let started = Date()
            let reply = try await node.admin(.POST, "/admin/proxy-configs/\(id)/keys/batch",
                                             body: String(data: try JSONSerialization.data(withJSONObject: ["keys": keys]), encoding: .utf8))
            let elapsed = Date().timeIntervalSince(started)
            print("batch import of 10 000 keys through the admin API: \(String(format: "%.2f", elapsed)) s")
            #expect(reply.status == 200)
            let result = try reply.object()
            #expect(result["success_count"] as? Int == 10_000)
            #expect(result["failed_count"] as? Int == 1)
            #expect(result["skipped_count"] as? Int == 1)
            #expect(try await node.proxy("bulk").status == 200)
            let deleted = try await node.admin(.DELETE, "/admin/proxy-configs/\(id)/keys")
            #expect(try deleted.object()["deleted"] as? Int == 10_000)
        }
    }

    @Test func usageCountersReachTheAdminView() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "usage")
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "sk-use"))
            for _ in 0..<6 { _ = try await node.proxy("usage") }
            let keys = try await node.keys(configID: id)
            #expect(keys.map { $0["request_count"] as? Int } == [3, 3])
            #expect(keys.allSatisfy { $0["last_used_at"] is String })
        }
    }

    @Test func healthAndReadiness() async throws {
        try await withRunningNode { node in
            let health = try await node.send(.GET, "/healthz")
            #expect(health.status == 200)
            #expect(try health.object()["degraded"] as? Bool == false)
            let ready = try await node.send(.GET, "/readyz")
            #expect(ready.status == 200, "\(ready.text)")
            #expect(ready.headers.first(name: "x-request-id") != nil)
        }
    }
}

@Suite(.serialized) struct MetricsEndpointTests {
    @Test func prometheusTextShowsProxyTraffic() async throws {
        let state = MockUpstreamState()
        let keys = sampleKeys(2, prefix: "sk-metrics")
        state.setProfile(KeyProfile(forceRateLimitRetryAfter: 30), forKey: keys[0])
        try await withRunningNode(mockState: state) { node in
            let id = try await node.createConfig(slug: "metered")
            try await node.addKeys(configID: id, keys)
            for _ in 0..<3 { _ = try await node.proxy("metered") }
            _ = try await node.proxy("nobody-knows-this-slug")
            let reply = try await node.send(.GET, "/metrics")
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "content-type")?.hasPrefix("text/plain") == true)
            let text = reply.text
            #expect(text.contains(#"rotator_requests_total{slug="metered",status="200",format="openai_compatible"} 3"#), "\(text)")
            #expect(text.contains(#"rotator_cooldowns_total{slug="metered"} 1"#))
            #expect(text.contains(#"rotator_retries_total{slug="metered"} 1"#))
            #expect(text.contains("rotator_upstream_latency_seconds_bucket"))
            #expect(text.contains(#"slug="unknown""#), "unknown slugs share one label value")
            #expect(!text.contains("nobody-knows-this-slug"))
        }
    }
}
