import Foundation
import LocalTestServers
import NIOHTTP1
import Testing

extension ClusterTests {
    /// The usage counted in the last moments before SIGTERM reaches the store: the final flush runs after the
    /// server has drained and before the store closes. One lightweight node (SQLite, memory) that flushes
    /// only at shutdown, so every count checked here came through that last flush.
    @Test func usageCountedUntilSIGTERMReachesTheStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-usage-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lightweight = [
            "DATABASE_URL": "", "REDIS_URL": "", "DATABASE_PATH": directory + "/rotator.db", "USAGE_FLUSH_SECONDS": "3600",
        ]
        try await Cluster.run(nodes: 1, extraEnvironment: lightweight) { cluster in
            let token = try await cluster.token()
            let id = try await cluster.createConfig(slug: "usage", keys: clusterKeys(2, prefix: "sk-usage"), token: token)
            for _ in 0..<20 {
                #expect(try await cluster.proxy(0, "usage").status == 200)
            }
            let node = cluster.nodes[0]
            node.terminate()
            #expect(await node.waitForExit(timeout: .seconds(60)))
            #expect(node.terminationStatus == 0)
            let log = node.logTail(lines: 400)
            #expect(!log.contains("database is closed"), "\(node.logTail(lines: 20))")
            #expect(!log.contains("usage counters could not be written"))

            // The same store, read by a new node.
            let port = try FreePort.find()
            let restarted = try ManagedProcess(
                executable: Cluster.rotatorBinary, arguments: [],
                environment: cluster.environment.merging(["BACKEND_PORT": String(port)]) { $1 }, logFile: directory + "/restarted.log"
            )
            defer { restarted.kill(signal: SIGKILL) }
            let deadline = ContinuousClock.now + .seconds(60)
            while (try? await cluster.send(port: port, .GET, "/readyz"))?.status != 200 {
                guard restarted.isRunning, ContinuousClock.now < deadline else { throw ClusterError.notReady(9, restarted.logTail(lines: 30)) }
                try await Task.sleep(for: .milliseconds(100))
            }
            let login = try await cluster.send(port: port, .POST, "/admin/login", body: #"{"username":"admin","password":"\#(Cluster.adminPassword)"}"#)
            let fresh = try #require(try login.object()["access_token"] as? String)
            let keys = try await cluster.send(port: port, .GET, "/admin/proxy-configs/\(id)/keys", headers: [("Authorization", "Bearer \(fresh)")])
            let counts = try keys.array().compactMap { $0["request_count"] as? Int }
            #expect(counts.reduce(0, +) == 20, "\(keys.text)")
        }
    }
}
