import Foundation
import MockUpstream
import NIOHTTP1
import Testing

extension ClusterTests {
    /// Issue 16: a per-model rest set on one node holds on every node (Redis, the loop's own EVALSHA), and every node
    /// still serves other models with the same keys.
    @Test func perModelRestsAreSharedAndLeaveOtherModelsServed() async throws {
        let keys = clusterKeys(4, prefix: "sk-model")
        try await Cluster.run { cluster in
            let token = try await cluster.token()
            _ = try await cluster.createConfig(slug: "models", keys: keys, token: token)
            _ = try await cluster.timeUntil(nodes: [0, 1, 2]) { try await cluster.proxy($0, "models").status == 200 }
            for key in keys {
                try await cluster.mock.setProfile(KeyProfile(modelLimits: ["gpt-storm": ModelLimit(kind: .perMinute, retryAfterSeconds: 60)]), forKey: key)
            }
            func chat(_ node: Int, _ model: String) async throws -> Int {
                try await cluster.send(node, .POST, "/llm/models/v1/chat/completions", headers: [("Authorization", "Bearer \(Cluster.proxyKey)")],
                                       body: #"{"model":"\#(model)","messages":[{"role":"user","content":"hi"}]}"#).status
            }
            for _ in 0..<2 { #expect(try await chat(0, "gpt-storm") == 429) }
            let limited = try await cluster.mock.counters().values.map(\.rateLimited).reduce(0, +)
            #expect(limited == 4, "two requests rest the four keys for gpt-storm (at most 3 keys per request): \(limited)")
            for index in 0..<10 { #expect(try await chat(1 + index % 2, "gpt-storm") == 429) }
            let after = try await cluster.mock.counters().values.map(\.rateLimited).reduce(0, +)
            #expect(after == limited, "nodes 1 and 2 do not call keys resting for gpt-storm")
            for index in 0..<12 { #expect(try await chat(index % 3, "gpt-other") == 200, "another model is served") }
        }
    }
}
