import AsyncHTTPClient
import Foundation
import LocalTestServers
import MockUpstream
import NIOCore
import NIOHTTP1

/// The mock upstream as its own process (the `mock-upstream` executable), scripted over its `/__mock` API:
/// the cluster's nodes then talk to a separate process, as they would to a provider.
final class MockUpstreamProcess: Sendable {
    let port: Int
    let process: ManagedProcess
    let client: HTTPClient

    var baseURL: String { "http://127.0.0.1:\(port)" }

    static var binary: String {
        if let configured = ProcessInfo.processInfo.environment["MOCK_UPSTREAM_BINARY"] { return configured }
        return (Cluster.rotatorBinary as NSString).deletingLastPathComponent + "/mock-upstream"
    }

    static func start(directory: String, client: HTTPClient) async throws -> MockUpstreamProcess {
        let port = try FreePort.find()
        let process = try ManagedProcess(
            executable: binary, arguments: ["--host", "127.0.0.1", "--port", String(port)], logFile: directory + "/mock.log"
        )
        let mock = MockUpstreamProcess(port: port, process: process, client: client)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if (try? await mock.counters()) != nil { return mock }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ClusterError.timedOut("mock-upstream to listen: \(process.logTail())")
    }

    private init(port: Int, process: ManagedProcess, client: HTTPClient) {
        self.port = port
        self.process = process
        self.client = client
    }

    func stop() async {
        await process.stop(grace: .seconds(2))
    }

    func counters() async throws -> [String: KeyCounters] {
        let body = try await call(.GET, "/__mock/counters")
        return try JSONDecoder().decode([String: KeyCounters].self, from: Data(body.readableBytesView))
    }

    func counters(forKey key: String) async throws -> KeyCounters {
        try await counters()[key] ?? KeyCounters()
    }

    func setProfile(_ profile: KeyProfile, forKey key: String) async throws {
        let data = try JSONEncoder().encode(profile)
        _ = try await call(.PUT, "/__mock/profiles/\(key)", body: ByteBuffer(bytes: data))
    }

    func reset() async throws {
        _ = try await call(.POST, "/__mock/reset")
    }

    private func call(_ method: HTTPMethod, _ path: String, body: ByteBuffer? = nil) async throws -> ByteBuffer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let body {
            request.body = .bytes(body)
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await client.execute(request, timeout: .seconds(5))
        let collected = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code < 300 else { throw ClusterError.timedOut("mock control \(path): \(response.status)") }
        return collected
    }
}
