import RotatorApp
import Testing

/// `rotator healthcheck` (the containers' HEALTHCHECK): where it asks, and what counts as healthy.
@Suite struct HealthProbeTests {
    @Test(arguments: [
        ("0.0.0.0", "http://127.0.0.1:8123/healthz"),
        ("::", "http://127.0.0.1:8123/healthz"),
        ("127.0.0.1", "http://127.0.0.1:8123/healthz"),
        ("10.1.2.3", "http://10.1.2.3:8123/healthz"),
        ("::1", "http://[::1]:8123/healthz"),
    ])
    func asksTheNodeWhereItListens(bindHost: String, expected: String) throws {
        let settings = try Settings.fromEnvironment(["BIND_HOST": bindHost, "BACKEND_PORT": "8123"])
        #expect(HealthProbe(settings: settings).url == expected)
    }

    @Test func aRunningNodeIsHealthy() async throws {
        try await withRunningNode { node in
            #expect(await HealthProbe(url: node.baseURL + "/healthz", timeout: .seconds(10)).isHealthy())
            // Another status than 200 is not healthy (here the 404 of a path the node does not serve).
            #expect(await !HealthProbe(url: node.baseURL + "/no-such-probe", timeout: .seconds(10)).isHealthy())
        }
    }

    @Test func nothingListeningIsUnhealthy() async throws {
        let node = try await TestNode.start()
        let url = node.baseURL + "/healthz"
        await node.stop()
        #expect(await !HealthProbe(url: url, timeout: .seconds(10)).isHealthy())
    }
}
