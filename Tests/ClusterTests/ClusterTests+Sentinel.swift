import Foundation
import LocalTestServers
import MockUpstream
import NIOHTTP1
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ClusterTests {
    /// Issue 21: Redis behind Sentinel (a master, a replica, three Sentinels). The master is killed while two nodes
    /// serve a paced pool: no client sees an error or a 429, and both nodes are back on shared coordination, on the
    /// new master, within 5 s of the Sentinels' switch.
    @Test func aSentinelFailoverUnderTrafficCostsNoClientRequest() async throws {
        // Two proxy loops per node: each node holds 4 connections to the master (2 loops, the admin/heartbeat client, the subscriber).
        try await Cluster.run(nodes: 2, extraEnvironment: ["EVENT_LOOPS": "2"], sentinel: true) { cluster in
            let group = try #require(cluster.sentinelGroup)
            let token = try await cluster.token()
            // The quota scenario's pool: every key limited at the mock to 5 req/s, and the operator states it (key_rpm).
            let perKey = 5.0
            let keys = clusterKeys(6, prefix: "sk-sentinel")
            for key in keys { try await cluster.mock.setProfile(KeyProfile(rateLimitPerSecond: perKey), forKey: key) }
            let created = try await cluster.admin(0, .POST, "/admin/proxy-configs", body: """
                {"name":"failover","slug":"failover","target_base_url":"\(cluster.mock.baseURL)/v1","key_rpm":\(Int(perKey * 60))}
                """, token: token)
            let id = try #require(try created.object()["id"] as? Int, "create: \(created.text)")
            let list = keys.map { "\"\($0)\"" }.joined(separator: ",")
            let batch = try await cluster.admin(0, .POST, "/admin/proxy-configs/\(id)/keys/batch", body: #"{"keys":[\#(list)]}"#, token: token)
            #expect(batch.status == 200, "\(batch.text)")
            @Sendable func healthy(_ node: Int) async throws -> Bool {
                try await cluster.send(node, .GET, "/healthz").object()["degraded"] as? Bool == false
            }
            _ = try await cluster.timeUntil(nodes: [0, 1]) { node in
                let served = try await cluster.proxy(node, "failover").status == 200
                guard served else { return false }
                return try await healthy(node)
            }

            // Open loop at 90 % of the pool's quota, alternating the two nodes, from before the kill to after the recovery.
            let traffic = PacedTraffic()
            let rate = perKey * Double(keys.count) * 0.9
            let driver = Task { await traffic.run(rate: rate) { index in (try? await cluster.proxy(index % 2, "failover").status) ?? -1 } }
            try await Task.sleep(for: .seconds(1))
            let evalBefore = Self.evalshaCalls(port: group.replica.port)

            group.master.kill(signal: SIGKILL)
            let killed = ContinuousClock.now
            var switched: ContinuousClock.Instant?
            var sawDegraded = false
            while ContinuousClock.now - killed < .seconds(30) {
                if group.masterPortNamedBySentinels() == group.replica.port {
                    switched = ContinuousClock.now
                    break
                }
                if !sawDegraded, (try? await healthy(0)) == false { sawDegraded = true }
                try await Task.sleep(for: .milliseconds(20))
            }
            let switchedAt = try #require(switched, "the Sentinels never promoted the replica")
            let recovery = try await cluster.timeUntil(nodes: [0, 1], timeout: .seconds(20)) { try await healthy($0) }
            let backAfter = ContinuousClock.now - switchedAt
            // Coordination runs on the new master: its script calls go on rising with the traffic, and every connection of
            // both nodes (each loop's, the subscriber's, the heartbeat's) has moved there.
            let evalAtRecovery = Self.evalshaCalls(port: group.replica.port)
            // Until the count rises (the traffic keeps running), within a deadline only a stalled coordination reaches.
            var evalAfter = evalAtRecovery
            let risenBy = ContinuousClock.now + .seconds(20)
            while evalAfter <= evalAtRecovery, ContinuousClock.now < risenBy {
                try await Task.sleep(for: .milliseconds(50))
                evalAfter = Self.evalshaCalls(port: group.replica.port)
            }
            var connections = 0
            let movedBy = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < movedBy {
                connections = Self.nodeConnections(port: group.replica.port)
                if connections >= 2 * 4 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            traffic.stop()
            await driver.value

            let statuses = traffic.statuses.withLock { $0 }
            let counters = try await cluster.mock.counters()
            let upstream429 = keys.reduce(0) { $0 + (counters[$1]?.rateLimited ?? 0) }
            print("""
                sentinel failover: switch \(switchedAt - killed) after the kill; both nodes healthy \(backAfter) after the switch \
                (polled \(recovery)); degraded seen: \(sawDegraded); client statuses \(statuses); upstream 429s \(upstream429); \
                EVALSHA on the new master: \(evalBefore) before, \(evalAtRecovery) at recovery, \(evalAfter) after; \
                node connections there: \(connections)
                """)
            #expect(statuses.keys.sorted() == [200], "every client request answered 200: \(statuses)")
            #expect(statuses[200, default: 0] >= Int(rate * 3), "traffic ran across the failover: \(statuses)")
            #expect(backAfter < .seconds(5), "coordination back \(backAfter) after the switch")
            #expect(evalAfter > evalAtRecovery, "script calls reach the new master: \(evalAtRecovery) -> \(evalAfter)")
            #expect(connections >= 2 * 4, "every connection of both nodes on the new master: \(connections)")
            #expect(RedisSentinelTestGroup.role(port: group.replica.port) == "master")
        }
    }

    /// `cmdstat_evalsha:calls=N` from `INFO commandstats`.
    static func evalshaCalls(port: Int) -> Int {
        guard let info = RedisTestServer.inlineCommand("INFO commandstats", port: port),
              let range = info.range(of: "cmdstat_evalsha:calls=") else { return 0 }
        return Int(info[range.upperBound...].prefix(while: \.isNumber)) ?? 0
    }

    /// Connections from anything but the Sentinels (they name theirs `sentinel-…`) and this probe, by `CLIENT LIST`.
    static func nodeConnections(port: Int) -> Int {
        guard let list = RedisTestServer.inlineCommand("CLIENT LIST", port: port) else { return 0 }
        return list.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("id=") && !$0.contains("name=sentinel-") && !$0.contains("cmd=client|list") }.count
    }
}

/// Requests at a fixed rate (open loop: a slow answer does not delay the next request), until stopped.
final class PacedTraffic: Sendable {
    let statuses = Mutex<[Int: Int]>([:])
    private let stopped = Atomic<Bool>(false)

    func stop() { stopped.store(true, ordering: .relaxed) }

    func run(rate: Double, _ request: @escaping @Sendable (Int) async -> Int) async {
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            var index = 0
            while !stopped.load(ordering: .relaxed) {
                try? await Task.sleep(until: start + .seconds(Double(index) / rate), clock: .continuous)
                let current = index
                group.addTask {
                    let status = await request(current)
                    self.statuses.withLock { $0[status, default: 0] += 1 }
                }
                index += 1
            }
        }
    }
}
