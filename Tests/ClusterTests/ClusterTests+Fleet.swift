import Foundation
import LocalTestServers
import NIOHTTP1
import RedisClient
import Testing

/// The fleet stays consistent without waiting for the periodic version check: these nodes check only once an
/// hour, so whatever reaches them within the polling window came by message.
extension ClusterTests {
    @Test func deletesReachEveryNodeByMessage() async throws {
        try await Cluster.run(extraEnvironment: ["CATALOG_CHECK_SECONDS": "3600"]) { cluster in
            let token = try await cluster.token()
            let id = try await cluster.createConfig(slug: "doomed", keys: clusterKeys(2, prefix: "sk-doomed"), token: token)
            let kept = try await cluster.createConfig(slug: "kept", keys: clusterKeys(2, prefix: "sk-kept"), token: token)
            _ = try await cluster.timeUntil(nodes: [1, 2], timeout: .seconds(30)) { try await cluster.proxy($0, "doomed").status == 200 }
            _ = try await cluster.timeUntil(nodes: [1, 2], timeout: .seconds(30)) { try await cluster.proxy($0, "kept").status == 200 }

            // Every key of a config deleted on node 0: the others stop serving it (503, no keys).
            let keysGone = try await cluster.admin(0, .DELETE, "/admin/proxy-configs/\(kept)/keys", token: token)
            #expect(keysGone.status == 200, "\(keysGone.text)")
            _ = try await cluster.timeUntil(nodes: [1, 2], timeout: .seconds(30)) { try await cluster.proxy($0, "kept").status == 503 }

            // A config deleted on node 0: the others answer 404 (they used to serve it until their version check).
            let deleted = try await cluster.admin(0, .DELETE, "/admin/proxy-configs/\(id)", token: token)
            #expect(deleted.status == 200, "\(deleted.text)")
            _ = try await cluster.timeUntil(nodes: [1, 2], timeout: .seconds(30)) { try await cluster.proxy($0, "doomed").status == 404 }

            // ... and its pool is gone from Redis, every key of it.
            let redis = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: cluster.redis.port))
            let left = try await redis.send(["KEYS", "rk1:{pool:\(id)}:*"]).array ?? []
            #expect(left.isEmpty, "\(left)")

            // A pool whose schedule vanished while its meta survived is re-seeded by the next request.
            let other = try await cluster.createConfig(slug: "repair", keys: clusterKeys(2, prefix: "sk-repair"), token: token)
            _ = try await cluster.timeUntil(nodes: [1], timeout: .seconds(30)) { try await cluster.proxy($0, "repair").status == 200 }
            _ = try await redis.send(["DEL", "rk1:{pool:\(other)}:schedule"])
            #expect(try await cluster.proxy(1, "repair").status == 200)
            await redis.shutdown()
        }
    }

    /// Failed logins count on every node alike, by the client address a trusted proxy reports.
    @Test func loginThrottlingIsSharedByTheNodes() async throws {
        try await Cluster.run(extraEnvironment: ["TRUSTED_PROXIES": "127.0.0.1/32"]) { cluster in
            func login(_ node: Int, from address: String, password: String) async throws -> Int {
                try await cluster.send(node, .POST, "/admin/login", headers: [("X-Forwarded-For", address)],
                                       body: #"{"username":"admin","password":"\#(password)"}"#).status
            }
            var guesses: [Int] = []
            for node in [0, 1, 2, 0, 1] {
                guesses.append(try await login(node, from: "203.0.113.7", password: "wrong"))
            }
            #expect(guesses == [401, 401, 401, 401, 401])
            // The sixth guess, on node 2, meets the limit the other nodes counted; so does the right password.
            let sixth = try await login(2, from: "203.0.113.7", password: "wrong")
            let right = try await login(1, from: "203.0.113.7", password: Cluster.adminPassword)
            #expect(sixth == 429 && right == 429, "\(sixth) \(right)")
            // Another client behind the same proxy is not locked out.
            let neighbour = try await login(2, from: "203.0.113.8", password: Cluster.adminPassword)
            #expect(neighbour == 200)
        }
    }

    /// A logout on one node ends the token on every node (the revocation list lives in Redis); the user's other
    /// token stays valid everywhere.
    @Test func logoutEndsTheTokenOnEveryNode() async throws {
        try await Cluster.run { cluster in
            let ended = try await cluster.token(0)
            let kept = try await cluster.token(1)
            #expect(try await cluster.admin(2, .GET, "/admin/proxy-configs", token: ended).status == 200)
            #expect(try await cluster.admin(1, .POST, "/admin/logout", token: ended).status == 204)
            for node in 0..<3 {
                #expect(try await cluster.admin(node, .GET, "/admin/proxy-configs", token: ended).status == 401, "node \(node)")
                #expect(try await cluster.admin(node, .GET, "/admin/proxy-configs", token: kept).status == 200, "node \(node)")
            }
        }
    }

    /// A node whose ENCRYPTION_KEY is not the store's refuses to start and says why.
    @Test func aNodeWithAnotherEncryptionKeyRefusesToStart() async throws {
        try await Cluster.run(nodes: 1) { cluster in
            let token = try await cluster.token()
            _ = try await cluster.createConfig(slug: "enc", keys: clusterKeys(1, prefix: "sk-enc"), token: token)
            var environment = cluster.environment
            environment["ENCRYPTION_KEY"] = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
            environment["BACKEND_PORT"] = String(try FreePort.find())
            let stranger = try ManagedProcess(
                executable: Cluster.rotatorBinary, arguments: [], environment: environment, logFile: "\(cluster.directory)/stranger.log"
            )
            #expect(await stranger.waitForExit(timeout: .seconds(60)))
            #expect(stranger.terminationStatus != 0)
            #expect(stranger.logTail(lines: 50).contains("ENCRYPTION_KEY does not match"), "\(stranger.logTail(lines: 20))")
        }
    }
}
