import Foundation
import MockUpstream
import NIOHTTP1
import Testing

/// The operator's routes against a live node and mock: traffic charts, why a key is out of rotation, check now,
/// the check at import, the audit log and the CSV export.
@Suite(.serialized) struct AdminOperatorTests {
    @Test func trafficCountsWhatTheProxyDidAndExplainsEachKey() async throws {
        try await withRunningNode(environment: ["COOLDOWN_SECONDS": "900"]) { node in
            let id = try await node.createConfig(slug: "ops")
            let keys = sampleKeys(4, prefix: "sk-ops")
            try await node.addKeys(configID: id, keys)
            node.mockState.setProfile(KeyProfile(revoked: true), forKey: keys[0])
            node.mockState.setProfile(KeyProfile(forceRateLimitRetryAfter: 300), forKey: keys[1])
            node.mockState.setProfile(KeyProfile(forceRateLimitRetryAfter: 300, retryAfterStyle: .none), forKey: keys[2])
            // Until the revoked key is invalid (three rejections, each after a short quarantine), whatever the machine's pace.
            var statuses: [Int] = []
            while statuses.count < 400 {
                statuses.append(try await node.proxy("ops").status)
                if statuses.count >= 12, try await node.keys(configID: id).first?["status"] as? String == "invalid" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
            let sent = statuses.count

            let traffic = try await node.admin(.GET, "/admin/proxy-configs/\(id)/traffic").object()
            #expect(traffic["scope"] as? String == "node")
            let minutes = try #require(traffic["minutes"] as? [[String: Any]])
            #expect(minutes.count == 60)
            let total = { (field: String) in minutes.compactMap { $0[field] as? Int }.reduce(0, +) }
            #expect(total("requests") == sent)
            #expect(total("client_errors") == 0)
            #expect(total("rate_limited") == 2, "each cooled key answered 429 once")
            #expect(minutes.contains { $0["median_added_latency_ms"] is Double })
            let keySeries = try #require(traffic["keys"] as? [[String: Any]])
            #expect(keySeries.count == 4)
            let uses = keySeries.map { ($0["uses"] as? [Int] ?? []).reduce(0, +) }
            #expect(uses.reduce(0, +) == sent + 2 + 3, "every attempt counts as a use: one per request, plus one per 429 and 401")
            let errors = keySeries.map { ($0["errors"] as? [Int] ?? []).reduce(0, +) }
            #expect(errors[0] == 3 && errors[1] == 1 && errors[2] == 1 && errors[3] == 0, "\(errors)")
            let events = try #require(keySeries[1]["events"] as? [[String: Any]])
            #expect(events.first?["kind"] as? String == "rate_limited")
            #expect(events.first?["source"] as? String == "provider_reset_hint")

            let listed = try await node.keys(configID: id)
            let details = listed.map { $0["status_detail"] as? [String: Any] }
            let invalid = try #require(details[0])
            #expect(invalid["reason"] as? String == "invalid")
            #expect(invalid["upstream_status"] as? Int == 401)
            let message = try #require(invalid["message"] as? String)
            #expect(message.hasPrefix("Incorrect API key provided"), "\(message)")
            #expect((invalid["rejections"] as? [[String: Any]])?.count == 3)
            #expect((invalid["summary"] as? String)?.contains("3 times in a row") == true)
            let hinted = try #require(details[1])
            #expect(hinted["reason"] as? String == "cooling")
            #expect(hinted["cause"] as? String == "provider_reset_hint")
            #expect(hinted["until"] is String)
            let unhinted = try #require(details[2])
            #expect(unhinted["cause"] as? String == "default_cooldown")
            #expect((unhinted["summary"] as? String)?.contains("COOLDOWN_SECONDS") == true)
            #expect(listed[3]["status_detail"] is NSNull, "a key in rotation needs no explanation")
            let everything = try await node.admin(.GET, "/admin/proxy-configs/\(id)/keys").text
                + (try await node.admin(.GET, "/admin/proxy-configs/\(id)/traffic").text)
            for key in keys { #expect(!everything.contains(key)) }
        }
    }

    @Test func checkNowProbesOneKeyInItsFormat() async throws {
        try await withRunningNode { node in
            for format in ["openai_compatible", "anthropic_native", "gemini_native"] {
                let slug = "check-\(format.prefix(6))"
                let base = node.mock.baseURL + (format == "gemini_native" ? "" : "/v1")
                let id = try await node.createConfig(slug: slug, format: format, base: base)
                let keys = sampleKeys(2, prefix: "sk-chk-\(format.prefix(3))")
                try await node.addKeys(configID: id, keys)
                node.mockState.setProfile(KeyProfile(revoked: true), forKey: keys[1])
                let listed = try await node.keys(configID: id)
                let good = try await node.admin(.POST, "/admin/keys/\(listed[0]["id"] as! Int)/check").object()
                #expect(good["outcome"] as? String == "ok", "\(format): \(good)")
                #expect(good["status"] as? Int == 200)
                #expect((good["endpoint"] as? String)?.hasSuffix("/models") == true, "\(good)")
                let bad = try await node.admin(.POST, "/admin/keys/\(listed[1]["id"] as! Int)/check")
                let badBody = try bad.object()
                #expect(badBody["outcome"] as? String == "rejected", "\(format): \(badBody)")
                #expect(badBody["status"] as? Int == 401)
                #expect(badBody["message"] is String)
                #expect(!bad.text.contains(keys[1]))
            }
            let recorded = node.mockState.recordedRequests.filter { $0.path.hasSuffix("/models") }
            #expect(recorded.contains { $0.path == "/v1/models" && $0.headers.contains { $0.name.lowercased() == "anthropic-version" } })
            #expect(recorded.contains { $0.path == "/v1beta/models" && $0.headers.contains { $0.name.lowercased() == "x-goog-api-key" } })
            #expect(try await node.admin(.POST, "/admin/keys/999/check").status == 404)
        }
    }

    @Test func importCanCheckEachKey() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "imp")
            let keys = sampleKeys(3, prefix: "sk-imp")
            node.mockState.setProfile(KeyProfile(revoked: true), forKey: keys[2])
            let list = keys.map { "\"\($0)\"" }.joined(separator: ",")
            let reply = try await node.admin(.POST, "/admin/proxy-configs/\(id)/keys/batch?check=true", body: #"{"keys":[\#(list),"\#(keys[0])"]}"#)
            let report = try reply.object()
            #expect(report["success_count"] as? Int == 3)
            #expect(report["skipped_count"] as? Int == 1)
            let checks = try #require(report["checks"] as? [[String: Any]])
            #expect(checks.map { $0["outcome"] as? String } == ["ok", "ok", "rejected"])
            #expect(report["checked_ok"] as? Int == 2)
            for key in keys { #expect(!reply.text.contains(key)) }
            let plain = try await node.admin(.POST, "/admin/proxy-configs/\(id)/keys/batch", body: #"{"keys":["sk-imp-plain-0123456789abcdef"]}"#).object()
            #expect(plain["checks"] == nil, "no check unless asked")
        }
    }

    @Test func auditLogRecordsEveryActionWithoutSecrets() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "aud")
            let keys = sampleKeys(2, prefix: "sk-aud")
            try await node.addKeys(configID: id, keys)
            _ = try await node.admin(.PUT, "/admin/proxy-configs/\(id)", body: #"{"name":"Audited"}"#)
            let keyID = try #require(try await node.keys(configID: id).first?["id"] as? Int)
            _ = try await node.admin(.PATCH, "/admin/keys/\(keyID)", body: #"{"is_active":false}"#)
            _ = try await node.admin(.POST, "/admin/keys/\(keyID)/check")
            _ = try await node.admin(.GET, "/admin/proxy-configs/\(id)/keys/export")
            _ = try await node.admin(.DELETE, "/admin/proxy-configs/\(id)/keys")
            _ = try await node.admin(.DELETE, "/admin/proxy-configs/\(id)")
            _ = try await node.send(.POST, "/admin/login", body: #"{"username":"mallory","password":"guess"}"#)

            let page = try await node.admin(.GET, "/admin/audit-log?limit=100")
            let entries = try #require(try page.object()["entries"] as? [[String: Any]])
            let actions = entries.map { $0["action"] as? String ?? "" }
            for action in ["config.create", "keys.import", "config.update", "key.disable", "key.check", "keys.export", "keys.clear", "config.delete",
                           "login", "login.failed"] {
                #expect(actions.contains(action), "\(action) missing from \(actions)")
            }
            let ids = entries.compactMap { $0["id"] as? Int }
            #expect(ids == ids.sorted(by: >), "newest first")
            let deletion = try #require(entries.first { $0["action"] as? String == "config.delete" })
            #expect(deletion["actor"] as? String == "admin")
            #expect(deletion["client_address"] as? String == "127.0.0.1")
            #expect(deletion["target"] as? String == "config:\(id)")
            #expect((deletion["before"] as? String)?.contains("\"slug\":\"aud\"") == true)
            let update = try #require(entries.first { $0["action"] as? String == "config.update" })
            #expect((update["before"] as? String)?.contains("\"name\":\"aud\"") == true)
            #expect((update["after"] as? String)?.contains("\"name\":\"Audited\"") == true)
            let cleared = try #require(entries.first { $0["action"] as? String == "keys.clear" })
            #expect((cleared["before"] as? String)?.contains("\"count\":2") == true)
            #expect(entries.first { $0["action"] as? String == "login.failed" }?["actor"] as? String == "mallory")
            for key in keys { #expect(!page.text.contains(key)) }
            #expect(!page.text.contains(TestNode.adminPassword))

            // Paging: two at a time until next_before is null, every entry seen once.
            var seen: [Int] = []
            var before: Int?
            repeat {
                let path = "/admin/audit-log?limit=2" + (before.map { "&before=\($0)" } ?? "")
                let object = try await node.admin(.GET, path).object()
                seen += (object["entries"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
                before = object["next_before"] as? Int
            } while before != nil
            let all = try await node.admin(.GET, "/admin/audit-log?limit=500").object()["entries"] as? [[String: Any]] ?? []
            // Each call above signed in again (a new entry); the pages hold every entry up to the first page's newest.
            let newest = try #require(seen.first)
            #expect(seen == all.compactMap { $0["id"] as? Int }.filter { $0 <= newest })
            #expect(seen.count > 10)
            #expect(try await node.admin(.GET, "/admin/audit-log?limit=0").status == 422)
        }
    }

    @Test func csvExportIsMaskedAndSafeForSpreadsheets() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "csv")
            let keys = sampleKeys(3, prefix: "sk-csv")
            try await node.addKeys(configID: id, keys)
            let reply = try await node.admin(.GET, "/admin/proxy-configs/\(id)/keys/export")
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "content-type")?.hasPrefix("text/csv") == true)
            #expect(reply.headers.first(name: "content-disposition")?.contains("csv-keys.csv") == true)
            let lines = reply.text.split(separator: "\r\n")
            #expect(lines.count == 4)
            #expect(lines[0].hasPrefix("id,key,status,is_active"))
            #expect(lines[1].contains(",sk-…mnop,active,true,"), "\(lines[1])")
            for key in keys { #expect(!reply.text.contains(key)) }
        }
    }

    @Test func clusterShowsThisNodeInLightweightMode() async throws {
        try await withRunningNode { node in
            let nodes = try await node.admin(.GET, "/admin/cluster").array()
            #expect(nodes.count == 1)
            #expect(nodes[0]["mode"] as? String == "lightweight")
            #expect(nodes[0]["this_node"] as? Bool == true)
            #expect(nodes[0]["degraded"] as? Bool == false)
            #expect((nodes[0]["version"] as? String)?.isEmpty == false)
            #expect(nodes[0]["address"] as? String == "127.0.0.1:0")
        }
    }
}
