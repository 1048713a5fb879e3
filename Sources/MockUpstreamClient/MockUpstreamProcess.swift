import AsyncHTTPClient
import Foundation
import LocalTestServers
import MockUpstream
import NIOCore
import NIOHTTP1

/// The mock upstream as its own process (the `mock-upstream` executable), scripted over its `/__mock` API: the
/// rotator nodes then talk to a separate process, as they would to a provider.
public final class MockUpstreamProcess: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    public let process: ManagedProcess
    private let client: HTTPClient

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `mock-upstream` beside the given binary (the build folder holds both), unless `MOCK_UPSTREAM_BINARY` says.
    public static func binary(besides sibling: String) -> String {
        if let configured = ProcessInfo.processInfo.environment["MOCK_UPSTREAM_BINARY"] { return configured }
        return (sibling as NSString).deletingLastPathComponent + "/mock-upstream"
    }

    /// Starts the mock on a free loopback port and waits until it answers. `arguments` are extra flags
    /// (`--chunks`, `--record-limit`, ...).
    public static func start(binary: String, directory: String, client: HTTPClient, arguments: [String] = []) async throws -> MockUpstreamProcess {
        let port = try FreePort.find()
        let process = try ManagedProcess(
            executable: binary, arguments: ["--host", "127.0.0.1", "--port", String(port)] + arguments, logFile: directory + "/mock.log"
        )
        let mock = MockUpstreamProcess(port: port, process: process, client: client)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if (try? await mock.counters()) != nil { return mock }
            guard process.isRunning else { throw Failure(description: "mock-upstream exited: \(process.logTail())") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "mock-upstream did not listen within 20 s: \(process.logTail())")
    }

    private init(port: Int, process: ManagedProcess, client: HTTPClient) {
        self.port = port
        self.process = process
        self.client = client
    }

    public func stop() async {
        await process.stop(grace: .seconds(2))
    }

    public func counters() async throws -> [String: KeyCounters] {
        let body = try await call(.GET, "/__mock/counters")
        return try JSONDecoder().decode([String: KeyCounters].self, from: Data(body.readableBytesView))
    }

    public func counters(forKey key: String) async throws -> KeyCounters {
        try await counters()[key] ?? KeyCounters()
    }

    /// Every key's counters summed.
    public func totalCounters() async throws -> KeyCounters {
        try await counters().values.reduce(into: KeyCounters()) { $0.add($1) }
    }

    /// Streamed answers open now and the most open at once, overall and per key (reset by `reset()`).
    public func openStreams() async throws -> OpenStreams {
        let body = try await call(.GET, "/__mock/streams")
        return try JSONDecoder().decode(OpenStreams.self, from: Data(body.readableBytesView))
    }

    public func setProfile(_ profile: KeyProfile, forKey key: String) async throws {
        let data = try JSONEncoder().encode(profile)
        _ = try await call(.PUT, "/__mock/profiles/\(key)", body: ByteBuffer(bytes: data))
    }

    /// Every key answers 429 for `seconds` (an account- or IP-wide limit); 0 ends a storm.
    public func startStorm(seconds: Int) async throws {
        _ = try await call(.POST, "/__mock/storm?seconds=\(seconds)")
    }

    /// Counters, profiles and storm back to the start.
    public func reset() async throws {
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
        guard response.status.code < 300 else {
            throw Failure(description: "mock control \(method) \(path) answered \(response.status): \(String(buffer: collected))")
        }
        return collected
    }
}
