import Foundation
import MockUpstream
import Testing

@Suite(.serialized) struct TimeoutAndCORSTests {
    /// An upstream latency no test waits for: a minute.
    static let never = 60_000

    @Test func slowKeyTimesOutAndAnotherKeyServesOnlyWhenTheConfigAllowsIt() async throws {
        let state = MockUpstreamState()
        let keys = sampleKeys(2, prefix: "sk-slow")
        // No window the machine must hit: the slow key answers after a minute (never, for this test), while the fast
        // key has PROXY_TIMEOUT (2 s) for an answer the in-process mock gives in milliseconds.
        state.setProfile(KeyProfile(latencyMilliseconds: Self.never), forKey: keys[0])
        try await withRunningNode(environment: ["PROXY_TIMEOUT": "2"], mockState: state) { node in
            // A read timeout after a POST was sent in full: the upstream may be doing (and billing) the work, so by default
            // it is not sent again; the client gets a 504 saying so.
            let cautious = try await node.createConfig(slug: "slow-once")
            try await node.addKeys(configID: cautious, keys)
            let first = try await node.proxy("slow-once")
            if first.status == 504 {
                #expect(first.text.contains("may already have processed it"), "\(first.text)")
                #expect(state.counters(forKey: keys[0]).requests + state.counters(forKey: keys[1]).requests == 1, "not sent again")
            } else {
                // The fast key happened to be chosen first.
                #expect(first.status == 200)
                #expect(try await node.proxy("slow-once").status == 504, "the slow key's turn: a 504, not a second call")
            }

            // With retry_after_read_timeout the slow key times out after PROXY_TIMEOUT and another key serves.
            let retrying = try await node.createConfig(slug: "slow", extra: #","retry_after_read_timeout":true"#)
            try await node.addKeys(configID: retrying, keys)
            let before = (state.counters(forKey: keys[0]).requests, state.counters(forKey: keys[1]).requests)
            for _ in 0..<2 {
                #expect(try await node.proxy("slow").status == 200, "another key serves after the timeout")
            }
            // The evidence, no clock needed: the slow key was asked (and timed out) and the fast key served both.
            #expect(state.counters(forKey: keys[0]).requests - before.0 >= 1)
            #expect(state.counters(forKey: keys[1]).requests - before.1 == 2)

            // Every key slow: the client gets a 504 in its format, not a hang.
            state.setProfile(KeyProfile(latencyMilliseconds: Self.never), forKey: keys[1])
            let timedOut = try await node.proxy("slow")
            #expect(timedOut.status == 504, "\(timedOut.text)")
            #expect((try timedOut.object()["error"] as? [String: Any])?["code"] as? String == "upstream_timeout")
        }
    }

    @Test func corsIsClosedUnlessConfigured() async throws {
        try await withRunningNode { closed in
            let plain = try await closed.send(.GET, "/admin/app-config", headers: [("Origin", "https://evil.example")])
            #expect(plain.headers.first(name: "access-control-allow-origin") == nil)
        }

        try await withRunningNode(environment: ["CORS_ALLOWED_ORIGINS": "https://admin.example"]) { open in
            let allowed = try await open.send(.GET, "/admin/app-config", headers: [("Origin", "https://admin.example")])
            #expect(allowed.headers.first(name: "access-control-allow-origin") == "https://admin.example")
            let preflight = try await open.send(.OPTIONS, "/admin/proxy-configs", headers: [
                ("Origin", "https://admin.example"), ("Access-Control-Request-Method", "POST"),
            ])
            #expect(preflight.status == 204)
            let other = try await open.send(.GET, "/admin/app-config", headers: [("Origin", "https://evil.example")])
            #expect(other.headers.first(name: "access-control-allow-origin") == nil)
        }
    }
}
