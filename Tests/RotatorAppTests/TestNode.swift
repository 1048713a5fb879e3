import AsyncHTTPClient
import Foundation
import Hummingbird
import KeyCoordination
import Logging
import MockUpstream
import NIOCore
import NIOHTTP1
import RotatorApp
import ServiceLifecycle
import Testing

/// A real rotator node on a free loopback port, with a real mock upstream beside it, both in this process.
final class TestNode: Sendable {
    static let proxyKey = "rk-test-proxy-key-0123456789"
    static let adminPassword = "admin-password-for-tests"

    let port: Int
    let mock: RunningMockUpstream
    let mockState: MockUpstreamState
    let logs: LogCapture
    let directory: String
    let node: RotatorNode
    private let group: ServiceGroup
    private let runTask: Task<Void, any Error>

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var databasePath: String { directory + "/rotator.db" }

    static func start(
        environment: [String: String] = [:], mockState: MockUpstreamState = MockUpstreamState(),
        policy: CoordinationPolicy = CoordinationPolicy(quarantineSeconds: [0.05, 0.05])
    ) async throws -> TestNode {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-test-\(UUID().uuidString)").path
        var env = [
            "DATABASE_PATH": directory + "/rotator.db", "GLOBAL_PROXY_KEYS": proxyKey, "ADMIN_PASSWORD": adminPassword,
            "BIND_HOST": "127.0.0.1", "BACKEND_PORT": "1", "PROXY_TIMEOUT": "5", "LOG_LEVEL": "trace",
        ]
        env.merge(environment) { $1 }
        var settings = try Settings.fromEnvironment(env)
        settings.port = 0
        let mock = try await MockUpstreamServer.start(state: mockState)
        let logs = LogCapture()
        let node: RotatorNode
        do {
            node = try await RotatorNode.make(settings: settings, logger: logs.logger(), coordinationPolicy: policy)
        } catch {
            await mock.stop()
            throw error
        }
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        let app = await node.application { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "test-group")))
        let runTask = Task { try await group.run() }
        var port = 0
        for await value in portStream {
            port = value
            break
        }
        guard port > 0 else { throw TestNodeError.didNotStart }
        return TestNode(port: port, mock: mock, mockState: mockState, logs: logs, directory: directory, node: node, group: group, runTask: runTask)
    }

    private init(
        port: Int, mock: RunningMockUpstream, mockState: MockUpstreamState, logs: LogCapture, directory: String, node: RotatorNode,
        group: ServiceGroup, runTask: Task<Void, any Error>
    ) {
        self.port = port
        self.mock = mock
        self.mockState = mockState
        self.logs = logs
        self.directory = directory
        self.node = node
        self.group = group
        self.runTask = runTask
    }

    /// Graceful shutdown, as SIGTERM would do it.
    func triggerShutdown() async {
        await group.triggerGracefulShutdown()
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await runTask.value
        await mock.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: HTTP

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer

        var text: String { String(buffer: body) }
        func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) }
        func object() throws -> [String: Any] { try #require(try json() as? [String: Any], "not a JSON object: \(text)") }
        func array() throws -> [[String: Any]] { try #require(try json() as? [[String: Any]], "not a JSON array: \(text)") }
    }

    func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil, bytes: ByteBuffer? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            if !request.headers.contains(name: "content-type") { request.headers.add(name: "Content-Type", value: "application/json") }
        } else if let bytes {
            request.body = .bytes(bytes)
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let collected = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: collected)
    }

    func proxy(_ slug: String, _ rest: String = "/v1/chat/completions", body: String = #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
               headers: [(String, String)] = [("Authorization", "Bearer \(TestNode.proxyKey)")]) async throws -> Reply {
        try await send(.POST, "/llm/\(slug)\(rest)", headers: headers, body: body)
    }

    // MARK: Admin

    func token() async throws -> String {
        let reply = try await send(.POST, "/admin/login", body: #"{"username":"admin","password":"\#(Self.adminPassword)"}"#)
        #expect(reply.status == 200, "login: \(reply.text)")
        return try #require(try reply.object()["access_token"] as? String)
    }

    func admin(_ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> Reply {
        try await send(method, path, headers: [("Authorization", "Bearer \(try await token())")], body: body)
    }

    /// Creates an LLM config pointing at the mock and returns its id.
    func createConfig(slug: String, format: String = "openai_compatible", base: String? = nil, extra: String = "") async throws -> Int {
        let target = base ?? mock.baseURL + "/v1"
        let reply = try await admin(.POST, "/admin/proxy-configs", body: """
            {"name":"\(slug)","slug":"\(slug)","api_format":"\(format)","target_base_url":"\(target)"\(extra)}
            """)
        #expect(reply.status == 201, "create config: \(reply.text)")
        return try #require(try reply.object()["id"] as? Int)
    }

    func addKeys(configID: Int, _ keys: [String]) async throws {
        let list = keys.map { "\"\($0)\"" }.joined(separator: ",")
        let reply = try await admin(.POST, "/admin/proxy-configs/\(configID)/keys/batch", body: #"{"keys":[\#(list)]}"#)
        #expect(reply.status == 200, "batch: \(reply.text)")
    }

    func keys(configID: Int) async throws -> [[String: Any]] {
        try await admin(.GET, "/admin/proxy-configs/\(configID)/keys").array()
    }
}

enum TestNodeError: Error {
    case didNotStart
}

/// Ten distinct upstream keys that look like real ones.
func sampleKeys(_ count: Int, prefix: String = "sk-test") -> [String] {
    (0..<count).map { "\(prefix)-\(String(format: "%04d", $0))-abcdefghijklmnop" }
}
