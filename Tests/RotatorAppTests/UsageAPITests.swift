import Foundation
import LocalTestServers
import Logging
import RedisClient
import Testing

/// `GET /admin/usage` on a real node: the ledger's rows (this node's unflushed ones flushed first), grouped, as JSON
/// and CSV; clear 400s.
@Suite(.serialized) struct UsageAPITests {
    @Test func reportsTheLedgerGroupedAsJSONAndCSV() async throws {
        try await withRunningNode(environment: ["USAGE_FLUSH_SECONDS": "3600"]) { node in
            let id = try await node.createConfig(slug: "use")
            try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-use"))
            for _ in 0..<3 { #expect(try await node.proxy("use", body: #"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#).status == 200) }
            #expect(try await node.proxy("use", headers: [("Authorization", "Bearer wrong")]).status == 401)

            let reply = try await node.admin(.GET, "/admin/usage?group_by=day,config")
            #expect(reply.status == 200, "\(reply.text)")
            let object = try reply.object()
            #expect(object["group_by"] as? [String] == ["day", "config"])
            let rows = try #require(object["rows"] as? [[String: Any]])
            #expect(rows.count == 1, "\(reply.text)")
            let row = try #require(rows.first)
            #expect(row["config"] as? String == "use" && row["config_id"] as? Int == id)
            #expect(row["requests"] as? Int == 4 && row["errors"] as? Int == 1)
            #expect((row["errors_by_class"] as? [String: Int]) == ["refused": 1])
            #expect(row["input_tokens"] as? Int == 3 && row["attempts"] as? Int == 3)
            #expect(row["day"] as? String == object["to"] as? String)

            let byClient = try await node.admin(.GET, "/admin/usage?group_by=client_key,key").object()
            let clientRow = try #require((byClient["rows"] as? [[String: Any]])?.first { $0["key_id"] is Int })
            #expect(clientRow["client_key_id"] is NSNull && clientRow["client_key"] is NSNull, "operator keys: \(clientRow)")
            #expect((clientRow["key"] as? String)?.contains("…") == true || (clientRow["key"] as? String)?.contains("*") == true, "masked: \(clientRow)")

            let csv = try await node.admin(.GET, "/admin/usage?group_by=model&format=csv")
            #expect(csv.status == 200)
            #expect(csv.headers.first(name: "content-type")?.hasPrefix("text/csv") == true)
            let lines = csv.text.split(separator: "\r\n")
            #expect(lines.first == "model,requests,errors,errors_rate_limited,errors_refused,errors_client_error,errors_timeout,errors_upstream,attempts,input_tokens,output_tokens,cached_tokens")
            #expect(lines.contains { $0.hasPrefix("gpt-4o,3,0,") }, "\(csv.text)")

            #expect(try await node.admin(.GET, "/admin/usage?config=nope").status == 404)
            for bad in ["from=2026-13-01", "group_by=week", "group_by=day,model,key", "format=xml", "client_key=0"] {
                let refused = try await node.admin(.GET, "/admin/usage?\(bad)")
                #expect(refused.status == 400, "\(bad): \(refused.text)")
                #expect(try refused.object()["error"] != nil || refused.text.contains("query"), "\(refused.text)")
            }
            #expect(try await node.send(.GET, "/admin/usage").status == 401)
        }
    }
}

/// Enterprise mode: the node's rows go through Redis (pushed, then moved into the store by the lease holder) before
/// `GET /admin/usage` reads them.
@Suite(.serialized, .enabled(if: RedisTestServer.shouldRun)) struct EnterpriseUsageTests {
    @Test func rowsReachTheStoreThroughRedis() async throws {
        let redis = try await RedisTestServer.start()
        defer { redis.stop() }
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: redis.port), logger: Logger(label: "usage-test"))
        try await client.whileRunning { client in
            try await withRunningNode(environment: FleetTrafficTests.enterprise(redis).merging(["USAGE_FLUSH_SECONDS": "3600"]) { $1 }) { node in
                let id = try await node.createConfig(slug: "ent")
                try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-ent"))
                for _ in 0..<4 { #expect(try await node.proxy("ent").status == 200) }
                let evalsBefore = try await FleetTrafficTests.commandCalls(client, "eval")
                let rows = try await node.admin(.GET, "/admin/usage?group_by=config").object()["rows"] as? [[String: Any]] ?? []
                #expect(rows.first?["requests"] as? Int == 4, "\(rows)")
                #expect(try await FleetTrafficTests.commandCalls(client, "eval") > evalsBefore, "pushed to and moved from Redis")
                #expect(try await client.send(["EXISTS", "{rotator:usage}:pending", "{rotator:usage}:moving"]).int == 0, "moved whole")
            }
        }
    }
}
