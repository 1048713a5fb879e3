import AsyncHTTPClient
import Foundation
import LocalTestServers
import MockUpstream
import MockUpstreamClient
import NIOCore
import NIOHTTP1
import Testing

/// Three real `rotator` processes sharing one redis-server and one mariadbd, with a mock upstream: the
/// enterprise deployment on one machine.
final class Cluster: Sendable {
    static let proxyKey = "rk-cluster-proxy-key-0123456789"
    static let adminPassword = "cluster-admin-password-9876"

    /// The master at start (with Sentinel it may be replaced by the replica later).
    let redis: RedisTestServer
    /// Master, replica and three Sentinels when the cluster was started with `sentinel: true`.
    let sentinelGroup: RedisSentinelTestGroup?
    let mariadb: MariaDBTestServer
    let mock: MockUpstreamProcess
    /// Its own client (own connection pool), apart from anything else in the test process.
    let client: HTTPClient
    let nodes: [ManagedProcess]
    let ports: [Int]
    let directory: String

    static var rotatorBinary: String {
        if let configured = ProcessInfo.processInfo.environment["ROTATOR_BINARY"] { return configured }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/rotator").path
    }

    /// The environment every node of the cluster gets (plus its own `BACKEND_PORT`).
    let environment: [String: String]

    /// - Parameter extraEnvironment: settings added to (or replacing) the standard ones on every node.
    /// - Parameter sentinel: Redis as a master, a replica and three Sentinels; the nodes find the master through them.
    static func start(nodes count: Int = 3, extraEnvironment: [String: String] = [:], sentinel: Bool = false) async throws -> Cluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-cluster-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let sentinelGroup = sentinel ? try await RedisSentinelTestGroup.start() : nil
        let redis: RedisTestServer
        if let sentinelGroup { redis = sentinelGroup.master } else { redis = try await RedisTestServer.start() }
        let redisEnvironment = sentinelGroup.map {
            ["REDIS_SENTINELS": $0.sentinelList, "REDIS_SENTINEL_MASTER": RedisSentinelTestGroup.masterName]
        } ?? ["REDIS_URL": "redis://127.0.0.1:\(redis.port)/0"]
        let mariadb = try await ClusterDatabase.server()
        let database = "cluster_\(UUID().uuidString.prefix(8).lowercased())"
        try await mariadb.makeDatabase(named: database)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let mock = try await MockUpstreamProcess.start(binary: MockUpstreamProcess.binary(besides: rotatorBinary), directory: directory, client: client)
        var nodes: [ManagedProcess] = []
        var ports: [Int] = []
        var shared: [String: String] = [:]
        for index in 0..<count {
            let port = try FreePort.find()
            let environment = [
                "BIND_HOST": "127.0.0.1", "LOG_LEVEL": "debug",
                "DATABASE_URL": "mysql://root@127.0.0.1:\(mariadb.port)/\(database)",
                "ADMIN_PASSWORD": adminPassword, "JWT_SECRET": "cluster-jwt-secret-0123456789abcdef",
                "ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "GLOBAL_PROXY_KEYS": proxyKey,
                "PROXY_TIMEOUT": "5", "SHUTDOWN_GRACE_SECONDS": "2",
            ].merging(redisEnvironment) { $1 }.merging(extraEnvironment) { $1 }
            shared = environment
            nodes.append(try ManagedProcess(
                executable: rotatorBinary, arguments: [], environment: environment.merging(["BACKEND_PORT": String(port)]) { $1 },
                logFile: "\(directory)/node\(index).log"
            ))
            ports.append(port)
        }
        let cluster = Cluster(
            redis: redis, sentinelGroup: sentinelGroup, mariadb: mariadb, mock: mock, client: client, nodes: nodes, ports: ports,
            directory: directory, environment: shared
        )
        for index in 0..<count { try await cluster.waitReady(index) }
        return cluster
    }

    private init(
        redis: RedisTestServer, sentinelGroup: RedisSentinelTestGroup?, mariadb: MariaDBTestServer, mock: MockUpstreamProcess,
        client: HTTPClient, nodes: [ManagedProcess], ports: [Int], directory: String, environment: [String: String]
    ) {
        self.environment = environment
        self.redis = redis
        self.sentinelGroup = sentinelGroup
        self.mariadb = mariadb
        self.mock = mock
        self.client = client
        self.nodes = nodes
        self.ports = ports
        self.directory = directory
    }

    /// Starts a cluster, runs `body`, and stops every process whatever happened.
    static func run(
        nodes count: Int = 3, extraEnvironment: [String: String] = [:], sentinel: Bool = false, _ body: (Cluster) async throws -> Void
    ) async throws {
        let cluster = try await start(nodes: count, extraEnvironment: extraEnvironment, sentinel: sentinel)
        do {
            try await body(cluster)
        } catch {
            if ProcessInfo.processInfo.environment["CLUSTER_KEEP_ON_FAILURE"] == "1" {
                FileHandle.standardError.write(Data("CLUSTER-FAILED \(cluster.directory) ports \(cluster.ports)\n".utf8))
                try? await Task.sleep(for: .seconds(40))
            }
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    func stop() async {
        for node in nodes { await node.stop(grace: .seconds(3)) }
        await mock.stop()
        redis.stop()
        sentinelGroup?.stop()
        try? await client.shutdown()
    }

    func waitReady(_ index: Int, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let reply = try? await send(index, .GET, "/readyz"), reply.status == 200 { return }
            guard nodes[index].isRunning else { throw ClusterError.nodeExited(index, nodes[index].logTail(lines: 30)) }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClusterError.notReady(index, nodes[index].logTail(lines: 30))
    }

    // MARK: HTTP

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
        var text: String { String(buffer: body) }
        func object() throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) }
        func array() throws -> [[String: Any]] { try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]]) }
    }

    func send(_ node: Int, _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil,
              timeout: TimeAmount = .seconds(15)) async throws -> Reply {
        try await send(port: ports[node], method, path, headers: headers, body: body, timeout: timeout)
    }

    /// To a node started apart from the cluster's own (same settings, another port).
    func send(port: Int, _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil,
              timeout: TimeAmount = .seconds(15)) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await client.execute(request, timeout: timeout)
        return Reply(status: Int(response.status.code), headers: response.headers, body: try await response.body.collect(upTo: 16 << 20))
    }

    func proxy(_ node: Int, _ slug: String) async throws -> Reply {
        try await send(node, .POST, "/llm/\(slug)/v1/chat/completions", headers: [("Authorization", "Bearer \(Self.proxyKey)")],
                       body: #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
    }

    func token(_ node: Int = 0) async throws -> String {
        let reply = try await send(node, .POST, "/admin/login", body: #"{"username":"admin","password":"\#(Self.adminPassword)"}"#)
        return try #require(try reply.object()["access_token"] as? String, "login: \(reply.text)")
    }

    func admin(_ node: Int, _ method: HTTPMethod, _ path: String, body: String? = nil, token: String) async throws -> Reply {
        try await send(node, method, path, headers: [("Authorization", "Bearer \(token)")], body: body)
    }

    func createConfig(slug: String, keys: [String], token: String) async throws -> Int {
        let created = try await admin(0, .POST, "/admin/proxy-configs", body: """
            {"name":"\(slug)","slug":"\(slug)","target_base_url":"\(mock.baseURL)/v1"}
            """, token: token)
        let id = try #require(try created.object()["id"] as? Int, "create: \(created.text)")
        let list = keys.map { "\"\($0)\"" }.joined(separator: ",")
        let batch = try await admin(0, .POST, "/admin/proxy-configs/\(id)/keys/batch", body: #"{"keys":[\#(list)]}"#, token: token)
        #expect(batch.status == 200, "\(batch.text)")
        return id
    }

    /// Polls until `condition` holds on every listed node; returns how long it took. The bound is generous: only a
    /// condition that never holds reaches it on a busy machine.
    func timeUntil(nodes indices: [Int], timeout: Duration = .seconds(30), _ condition: @Sendable (Int) async throws -> Bool) async throws -> Duration {
        let start = ContinuousClock.now
        var pending = Set(indices)
        while !pending.isEmpty {
            for index in pending where try await condition(index) { pending.remove(index) }
            if pending.isEmpty { break }
            guard ContinuousClock.now - start < timeout else { throw ClusterError.timedOut("condition on nodes \(pending.sorted())") }
            try await Task.sleep(for: .milliseconds(2))
        }
        return ContinuousClock.now - start
    }
}

enum ClusterError: Error, CustomStringConvertible {
    case nodeExited(Int, String)
    case notReady(Int, String)
    case timedOut(String)

    var description: String {
        switch self {
        case .nodeExited(let index, let log): return "node \(index) exited:\n\(log)"
        case .notReady(let index, let log): return "node \(index) not ready:\n\(log)"
        case .timedOut(let what): return "timed out waiting for \(what)"
        }
    }
}

func clusterKeys(_ count: Int, prefix: String) -> [String] {
    (0..<count).map { "\(prefix)-\(String(format: "%03d", $0))-abcdefghijklmnop" }
}

func percentile(_ values: [Duration], _ p: Double) -> Duration {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .zero }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

/// One mariadbd for the cluster suite, apart from the one other suites share: these tests stop and pause it.
actor ClusterDatabase {
    static let instance = ClusterDatabase()
    private var task: Task<MariaDBTestServer, any Error>?

    static func server() async throws -> MariaDBTestServer {
        try await instance.get()
    }

    private func get() async throws -> MariaDBTestServer {
        if let task { return try await task.value }
        let task = Task { try await MariaDBTestServer.start() }
        self.task = task
        return try await task.value
    }
}
