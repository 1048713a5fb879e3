import Foundation
import Testing

/// A config's `default_max_tokens`: what a client key's request to it reserves against the key's token limits when it
/// names no maximum, instead of the node's `CLIENT_KEY_DEFAULT_MAX_TOKENS`; set, cleared with 0, and refused out of range.
@Suite struct ConfigDefaultMaxTokensTests {
    @Test func aConfigsDefaultIsWhatARequestWithoutMaxTokensReserves() async throws {
        try await withRunningNode { node in
            // The reservation shows in what the daily budget has left at admission: the config's 100, or the node's 4096.
            let tight = try await node.createConfig(slug: "tight", extra: #","default_max_tokens":100"#)
            let loose = try await node.createConfig(slug: "loose")
            try await node.addKeys(configID: tight, ["sk-tight-0123456789abcdef"])
            try await node.addKeys(configID: loose, ["sk-loose-0123456789abcdef"])
            let created = try await node.admin(.POST, "/admin/client-keys", body: #"{"name":"budget","daily_tokens":100000}"#)
            let secret = try #require(try created.object()["key"] as? String, "\(created.text)")
            let body = #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#
            let input = Int64(body.utf8.count / 4)

            let first = try await node.send(.POST, "/llm/tight/v1/chat/completions", headers: [("Authorization", "Bearer \(secret)")], body: body)
            #expect(first.status == 200, "\(first.text)")
            #expect(first.headers.first(name: "x-ratelimit-remaining-tokens-day") == String(100_000 - 100 - input))
            // The first settled to the 2 tokens the mock reports.
            let second = try await node.send(.POST, "/llm/loose/v1/chat/completions", headers: [("Authorization", "Bearer \(secret)")], body: body)
            #expect(second.status == 200, "\(second.text)")
            #expect(second.headers.first(name: "x-ratelimit-remaining-tokens-day") == String(100_000 - 2 - 4096 - input))
            // A request that names its maximum reserves that, whatever the config says.
            let named = #"{"model":"m","max_tokens":7,"messages":[{"role":"user","content":"hi"}]}"#
            let third = try await node.send(.POST, "/llm/tight/v1/chat/completions", headers: [("Authorization", "Bearer \(secret)")], body: named)
            #expect(third.headers.first(name: "x-ratelimit-remaining-tokens-day") == String(100_000 - 4 - 7 - Int64(named.utf8.count / 4)))

            let view = try await node.admin(.GET, "/admin/proxy-configs/\(tight)").object()
            #expect(view["default_max_tokens"] as? Int == 100)
            let cleared = try await node.admin(.PUT, "/admin/proxy-configs/\(tight)", body: #"{"default_max_tokens":0}"#)
            let clearedView = try cleared.object()
            #expect(cleared.status == 200 && clearedView["default_max_tokens"] is NSNull, "\(cleared.text)")
            for bad in ["-1", "10000001"] {
                let refusedInput = try await node.admin(.PUT, "/admin/proxy-configs/\(tight)", body: #"{"default_max_tokens":\#(bad)}"#)
                #expect(refusedInput.status == 422 && refusedInput.text.contains("default_max_tokens"), "\(bad): \(refusedInput.text)")
            }
        }
    }
}
