import AsyncHTTPClient
import Foundation
import LocalTestServers
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Before authentication nothing costs more than a few KB: a real `rotator` process (its own memory, apart from
/// this test's) receives 40 concurrent 15 MB bodies to `/admin/login`, then 40 to an admin route without a token, then 40
/// of 9 MB to a proxy route without a key in the head.
@Suite(.serialized) struct UnauthenticatedBodyTests {
    static var rotatorBinary: String {
        if let configured = ProcessInfo.processInfo.environment["ROTATOR_BINARY"] { return configured }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/rotator").path
    }

    static let bodyBytes = 15 * 1024 * 1024

    @Test func unauthenticatedBodiesCostNoMemory() async throws {
        let binary = Self.rotatorBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the rotator first: \(binary)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-bodies-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = try FreePort.find()
        let node = try ManagedProcess(executable: binary, arguments: [], environment: [
            "BIND_HOST": "127.0.0.1", "BACKEND_PORT": String(port), "LOG_LEVEL": "warning", "DATABASE_PATH": directory + "/rotator.db",
            "ADMIN_PASSWORD": "admin-password-for-tests", "GLOBAL_PROXY_KEYS": "rk-test-proxy-key-0123456789", "MAX_CONNECTIONS": "500",
            "WRONG_PROXY_KEY_LIMIT": "0",
        ], logFile: directory + "/node.log")
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(connectionPool: .init(idleTimeout: .seconds(5), concurrentHTTP1ConnectionsPerHostSoftLimit: 100)))
        do {
            try await Self.waitReady(client: client, port: port, node: node)
            // 40 small requests at once open the connections and warm the node's code paths before the baseline: what
            // is measured is what the bodies cost, not what 40 connections do.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<40 {
                    let path = index.isMultiple(of: 2) ? "/admin/login" : "/admin/proxy-configs/1/keys/batch"
                    group.addTask { try await Self.post(client: client, port: port, path: path, bytes: 1024, chunked: false) }
                }
                try await group.waitForAll()
            }
            try await Self.createConfig(client: client, port: port)
            // Rounds of 40 at once: to the login, to a route behind the token, and to a proxy route without a key in
            // the head (where an SDK may put `api_key` in the JSON body), each body within MAX_BODY_BYTES there.
            for path in ["/admin/login", "/admin/proxy-configs/1/keys/batch", "/llm/open/v1/chat/completions"] {
                let before = try Self.residentBytes(pid: node.pid)
                let peak = ResidentPeak(pid: node.pid)
                let sampler = Task { await peak.sample() }
                let isProxy = path.hasPrefix("/llm/")
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<40 {
                        // Half declare their length, half send it chunked (no length to refuse on).
                        let chunked = index.isMultiple(of: 2)
                        group.addTask {
                            guard isProxy else { return try await Self.post(client: client, port: port, path: path, bytes: Self.bodyBytes, chunked: chunked) }
                            // The proxy answers 413 and closes the connection instead of reading the rest: a client still
                            // sending may see the close before the answer (send `Expect: 100-continue` to get it first).
                            do {
                                return try await Self.post(client: client, port: port, path: path, bytes: 9 * 1024 * 1024, chunked: chunked)
                            } catch {
                                return 413
                            }
                        }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                sampler.cancel()
                await sampler.value
                let grown = max(peak.maximum, try Self.residentBytes(pid: node.pid)) - before
                let expected = path.hasSuffix("/keys/batch") ? 401 : 413
                #expect(statuses.allSatisfy { $0 == expected }, "\(path) answered \(statuses)")
                #expect(grown < 20 * 1024 * 1024, "the node grew by \(grown / 1024 / 1024) MB under 40 unauthenticated large bodies to \(path)")
                print("40 unauthenticated large bodies to \(path): resident memory grew by \(grown / 1024) KB at most (\(before / 1024 / 1024) MB before)")
            }
        } catch {
            try? await client.shutdown()
            await node.stop(grace: .seconds(3))
            throw error
        }
        try await client.shutdown()
        await node.stop(grace: .seconds(3))
    }

    /// One POST of `bytes` bytes (a 64 KiB piece sent again and again, so this process stays small); the status.
    static func post(client: HTTPClient, port: Int, path: String, bytes: Int, chunked: Bool) async throws -> Int {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let piece = ByteBuffer(repeating: UInt8(ascii: "a"), count: 64 * 1024)
        // Slices of one buffer: the queued pieces share its storage.
        let pieces = AsyncStream<ByteBuffer> { continuation in
            for index in 0..<(bytes + piece.readableBytes - 1) / piece.readableBytes {
                continuation.yield(piece.getSlice(at: 0, length: min(piece.readableBytes, bytes - index * piece.readableBytes))!)
            }
            continuation.finish()
        }
        request.body = .stream(pieces, length: chunked ? .unknown : .known(Int64(bytes)))
        let response = try await client.execute(request, timeout: .seconds(120))
        _ = try await response.body.collect(upTo: 64 * 1024)
        return Int(response.status.code)
    }

    /// One LLM config (`open`), made through the admin API as an operator would.
    static func createConfig(client: HTTPClient, port: Int) async throws {
        var login = HTTPClientRequest(url: "http://127.0.0.1:\(port)/admin/login")
        login.method = .POST
        login.headers.add(name: "Content-Type", value: "application/json")
        login.body = .bytes(ByteBuffer(string: #"{"username":"admin","password":"admin-password-for-tests"}"#))
        let reply = try await client.execute(login, timeout: .seconds(30))
        let object = try JSONSerialization.jsonObject(with: Data((try await reply.body.collect(upTo: 1 << 16)).readableBytesView)) as? [String: Any]
        let token = try #require(object?["access_token"] as? String)
        var create = HTTPClientRequest(url: "http://127.0.0.1:\(port)/admin/proxy-configs")
        create.method = .POST
        create.headers.add(name: "Content-Type", value: "application/json")
        create.headers.add(name: "Authorization", value: "Bearer \(token)")
        create.body = .bytes(ByteBuffer(string: #"{"name":"open","slug":"open","target_base_url":"http://127.0.0.1:9/v1"}"#))
        let created = try await client.execute(create, timeout: .seconds(30))
        #expect(created.status == .created)
        _ = try await created.body.collect(upTo: 1 << 16)
    }

    static func waitReady(client: HTTPClient, port: Int, node: ManagedProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let reply = try? await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/readyz"), timeout: .seconds(5)),
                reply.status == .ok { return }
            try #require(node.isRunning, "the node exited: \(node.logTail(lines: 20))")
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the node did not get ready: \(node.logTail(lines: 20))")
    }

    static func residentBytes(pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? ""))
        return kilobytes * 1024
    }
}

/// The highest resident size seen while sampling (every 20 ms until cancelled).
private final class ResidentPeak: Sendable {
    let pid: Int32
    private let peak = Mutex(0)

    init(pid: Int32) { self.pid = pid }

    var maximum: Int { peak.withLock { $0 } }

    func sample() async {
        while !Task.isCancelled {
            if let now = try? UnauthenticatedBodyTests.residentBytes(pid: pid) { peak.withLock { $0 = max($0, now) } }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
