import Foundation
import LocalTestServers
import MariaDBDriver
import RedisClient
@testable import RotatorApp
import RotatorCore
import RotatorStore
import Testing

/// Enterprise mode's usage counters between flushes, on a real Redis and a real MariaDB: every node pushes, one node
/// at a time (the lease) moves the fleet's totals into the store; a node that dies after its push loses nothing.
@Suite(.serialized, .enabled(if: RedisTestServer.shouldRun && MariaDBTestServer.shouldRunTests)) struct RedisUsageCountersTests {
    static let x = UsageRowKey(day: 20_000, clientKeyID: 7, configID: 1, keyID: 3, model: "models/gemini:2.5")
    static let y = UsageRowKey(day: 20_000, clientKeyID: nil, configID: 2, keyID: nil, model: nil)

    @Test func hashFieldsRoundTrip() {
        var counts = UsageCounts.request(status: 429, attempts: 2, input: 10, output: 3, cached: 1)
        counts.add(.request(status: 200, attempts: 1, input: 5, output: 2, cached: 0))
        let rows = [Self.x: counts, Self.y: UsageCounts.request(status: 504, attempts: 1, input: 0, output: 0, cached: 0)]
        #expect(UsageHashFields.decode(UsageHashFields.encode(rows)) == rows.mapValues { value in
            var normalized = UsageCounts()
            normalized.add(value)
            return normalized
        })
    }

    @Test func onlyTheLeaseHolderMovesAndADeadNodesPushIsKept() async throws {
        let redis = try await RedisTestServer.start()
        defer { redis.stop() }
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: redis.port))
        let server = try await MariaDBTestServer.shared()
        let name = "usage_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try await server.makeDatabase(named: name)
        let database = try await MariaDBDatabase.connect(MariaDBConnectionSettings(
            host: server.host, port: server.port, user: server.user, password: server.password, database: name))
        do {
            let store = SQLConfigStore(database: database, cipher: try KeyCipher(masterKey: [UInt8](repeating: 2, count: 32)))
            try await store.migrate()
            let nodeA = RedisUsageCounters(client: client, nodeID: "a"), nodeB = RedisUsageCounters(client: client, nodeID: "b")
            func requests(_ count: Int64) -> UsageCounts { UsageCounts(requests: count, attempts: count, inputTokens: 10 * count, outputTokens: count, cachedTokens: 0) }

            // Node a pushes, then dies without another flush; node b pushes too.
            try await nodeA.push([Self.x: requests(3)])
            try await nodeB.push([Self.x: requests(2), Self.y: requests(1)])

            // Another node holds the lease: b moves nothing.
            _ = try await client.send(["SET", RedisArgument(RedisUsageCounters.leaseKey), "c", "PX", "60000"])
            #expect(try await nodeB.moveToStore(store, leaseMilliseconds: 30_000) == false)
            #expect(try await store.usageRows(fromDay: 20_000, toDay: 20_000, clientKeyID: nil, configID: nil).isEmpty)
            _ = try await client.send(["DEL", RedisArgument(RedisUsageCounters.leaseKey)])

            #expect(try await nodeB.moveToStore(store, leaseMilliseconds: 30_000))
            var rows = try await store.usageRows(fromDay: 20_000, toDay: 20_000, clientKeyID: nil, configID: nil)
            #expect(rows.first { $0.key == Self.x }?.counts.requests == 5, "the dead node's push is counted: \(rows)")
            #expect(rows.first { $0.key == Self.x }?.counts.inputTokens == 50)
            #expect(rows.first { $0.key == Self.y }?.counts.requests == 1)
            #expect(try await client.send(["GET", RedisArgument(RedisUsageCounters.leaseKey)]).isNull, "the lease is released")

            // Moved once: a second move adds nothing.
            #expect(try await nodeA.moveToStore(store, leaseMilliseconds: 30_000))
            rows = try await store.usageRows(fromDay: 20_000, toDay: 20_000, clientKeyID: nil, configID: nil)
            #expect(rows.first { $0.key == Self.x }?.counts.requests == 5)

            // A mover that died after taking the hash leaves it renamed: the next mover finishes its move.
            try await nodeA.push([Self.x: requests(1)])
            _ = try await client.send(["EVAL", RedisArgument(RedisUsageCounters.takeScript), "2", RedisArgument(RedisUsageCounters.pendingKey),
                                       RedisArgument(RedisUsageCounters.movingKey)])
            try await nodeA.push([Self.y: requests(4)])
            #expect(try await nodeB.moveToStore(store, leaseMilliseconds: 30_000))
            #expect(try await nodeB.moveToStore(store, leaseMilliseconds: 30_000))
            rows = try await store.usageRows(fromDay: 20_000, toDay: 20_000, clientKeyID: nil, configID: nil)
            #expect(rows.first { $0.key == Self.x }?.counts.requests == 6)
            #expect(rows.first { $0.key == Self.y }?.counts.requests == 5)
        } catch {
            Issue.record(error)
        }
        try await database.close()
        try await server.dropDatabase(named: name)
        await client.shutdown()
    }
}
