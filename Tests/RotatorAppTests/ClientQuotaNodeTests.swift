import ClientAccess
import Foundation
import LocalTestServers
import NIOPosix
import RedisCoordination
import Testing

/// The node wires the client quota: in memory on a lightweight node, in Redis on an enterprise one, whose Redis outage
/// shows on `/healthz` and in `rotator_client_quota_degraded` until Redis answers again.
@Suite(.serialized) struct ClientQuotaNodeTests {
    @Test func aLightweightNodeEnforcesInMemory() async throws {
        try await withRunningNode { node in
            #expect(node.node.clientQuota is InMemoryClientQuota)
        }
    }

    @Test(.enabled(if: RedisTestServer.shouldRun)) func anEnterpriseNodeSaysWhenItEnforcesLocally() async throws {
        let redis = try await RedisTestServer.start()
        defer { redis.stop() }
        let environment = [
            "REDIS_URL": "redis://127.0.0.1:\(redis.port)/0",
            "JWT_SECRET": "quota-node-jwt-secret-0123456789", "ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ]
        try await withRunningNode(environment: environment) { node in
            guard let quota = node.node.clientQuota as? RedisClientQuota else {
                Issue.record("an enterprise node's quota is \(type(of: node.node.clientQuota))")
                return
            }
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let request = QuotaRequest(clientKey: 1, limits: ClientKeyLimits(rpm: 10), reservedTokens: 0, lease: "node-test-1")
            guard case .admitted = try await quota.admit(request, on: loop).get() else { Issue.record("not admitted"); return }
            #expect(!quota.isDegraded)
            #expect(try await node.send(.GET, "/metrics").text.contains("rotator_client_quota_degraded 0"))

            redis.pause()
            var second = request
            second.lease = "node-test-2"
            _ = try await quota.admit(second, on: loop).get()
            let health = try await node.send(.GET, "/healthz").object()
            redis.resume()
            let details = health["details"] as? [String: String] ?? [:]
            #expect(details["client_quota"]?.contains("limit ÷ 1 live nodes") == true, "\(health)")
            #expect(try await node.send(.GET, "/metrics").text.contains("rotator_client_quota_degraded 1"))
            // Back without a client-key request: the heartbeat sees Redis answer and the quota checks it.
            let deadline = ContinuousClock.now + .seconds(60)
            while quota.isDegraded, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(!quota.isDegraded)
            let after = try await node.send(.GET, "/healthz").object()
            #expect((after["details"] as? [String: String])?["client_quota"] == nil, "\(after)")
        }
    }
}
