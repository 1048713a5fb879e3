import Foundation
import MockUpstream
import Testing

@Suite(.serialized) struct TimeoutAndCORSTests {
    @Test func slowKeyTimesOutAndAnotherKeyServes() async throws {
        let state = MockUpstreamState()
        let keys = sampleKeys(2, prefix: "sk-slow")
        state.setProfile(KeyProfile(latencyMilliseconds: 3000), forKey: keys[0])
        let node = try await TestNode.start(environment: ["PROXY_TIMEOUT": "1"], mockState: state)
        defer { Task { await node.stop() } }
        let id = try await node.createConfig(slug: "slow")
        try await node.addKeys(configID: id, keys)
        let reply = try await node.proxy("slow")
        #expect(reply.status == 200, "\(reply.text)")
        // Without the timeout the slow key would have answered (200, after 3 s) and the other key never been asked:
        // the other key's request is the evidence, no clock needed.
        #expect(state.counters(forKey: keys[0]).requests == 1 && state.counters(forKey: keys[1]).requests == 1,
                "the slow key timed out after PROXY_TIMEOUT and another key served")

        // Every key slow: the client gets a 504 in its format, not a hang.
        state.setProfile(KeyProfile(latencyMilliseconds: 3000), forKey: keys[1])
        let timedOut = try await node.proxy("slow")
        #expect(timedOut.status == 504, "\(timedOut.text)")
        #expect((try timedOut.object()["error"] as? [String: Any])?["code"] as? String == "upstream_timeout")
    }

    @Test func corsIsClosedUnlessConfigured() async throws {
        let closed = try await TestNode.start()
        let plain = try await closed.send(.GET, "/admin/app-config", headers: [("Origin", "https://evil.example")])
        #expect(plain.headers.first(name: "access-control-allow-origin") == nil)
        await closed.stop()

        let open = try await TestNode.start(environment: ["CORS_ALLOWED_ORIGINS": "https://admin.example"])
        defer { Task { await open.stop() } }
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
