import Foundation
import NIOHTTP1
import Testing

/// Wrong proxy keys are throttled per client address: after `WRONG_PROXY_KEY_LIMIT` of them the address gets 429
/// with `Retry-After` in its client's format, even with the right key; a right key from elsewhere is served.
@Suite(.serialized) struct WrongProxyKeyThrottleTests {
    @Test func guessersAreThrottledAndOthersServed() async throws {
        try await withRunningNode(environment: ["WRONG_PROXY_KEY_LIMIT": "5", "TRUSTED_PROXIES": "127.0.0.1"]) { node in
            let id = try await node.createConfig(slug: "claude", format: "anthropic_native")
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "sk-ant"))
            let body = #"{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#
            func call(from address: String, key: String) async throws -> TestNode.Reply {
                try await node.send(.POST, "/llm/claude/v1/messages", headers: [
                    ("X-Forwarded-For", address), ("x-api-key", key), ("anthropic-version", "2023-06-01"),
                ], body: body)
            }
            for _ in 0..<5 { #expect(try await call(from: "198.51.100.7", key: "wrong-key-\(UUID())").status == 401) }
            let throttled = try await call(from: "198.51.100.7", key: TestNode.proxyKey)
            #expect(throttled.status == 429, "\(throttled.status) \(throttled.text)")
            let seconds = Int(throttled.headers.first(name: "retry-after") ?? "") ?? 0
            #expect((1...60).contains(seconds), "Retry-After: \(seconds)")
            let error = try throttled.object()
            #expect(error["type"] as? String == "error", "Anthropic's error shape: \(throttled.text)")
            #expect((error["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")
            let served = try await call(from: "203.0.113.9", key: TestNode.proxyKey)
            #expect(served.status == 200, "a right key from another address: \(served.status) \(served.text)")
        }
    }
}
