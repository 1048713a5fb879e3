import ClientAccess
import Foundation
import KeyCoordination
import LocalTestServers
import Logging
import NIOCore
import NIOPosix
import RedisClient
import RedisCoordination
import Testing

/// What one admit + settle costs, every limit set: CPU in memory, and Redis CPU per script call and per admission
/// (`INFO commandstats`), the settle sent alone and riding the next admit. Run by hand:
/// `QUOTA_COST=1 swift test --skip-build --filter ClientQuotaCostTests`.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["QUOTA_COST"] == "1"))
struct ClientQuotaCostTests {
    static let limits = ClientKeyLimits(
        rpm: 1_000_000, tpm: 1_000_000_000, maxConcurrent: 1000, dailyRequests: 100_000_000, monthlyRequests: 1_000_000_000,
        dailyTokens: 1_000_000_000_000, monthlyTokens: 1_000_000_000_000
    )

    @Test func inMemory() {
        let quota = InMemoryClientQuota()
        let leases = (0..<200_000).map { "req-\($0)" }
        let keys: [Int64] = [1, 2, 3, 4]
        for round in 0..<2 {
            let started = ContinuousClock.now
            for (index, lease) in leases.enumerated() {
                let request = QuotaRequest(clientKey: keys[index & 3], limits: Self.limits, reservedTokens: 500, lease: lease)
                guard case .admitted(let ticket, _)? = quota.admitImmediately(request) else { Issue.record("refused"); return }
                quota.settle(ticket, usedTokens: 300)
            }
            let elapsed = ContinuousClock.now - started
            let perCall = Double(elapsed.components.attoseconds / 1_000_000_000 + elapsed.components.seconds * 1_000_000_000) / Double(leases.count)
            print("in-memory admit+settle, every limit set, round \(round): \(String(format: "%.0f", perCall)) ns")
        }
    }

    @Test(.enabled(if: RedisTestServer.shouldRun)) func redisScript() async throws {
        let server = try await RedisTestServer.start()
        defer { server.stop() }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        let loopClient = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port), eventLoopGroup: loop)
        try await loopClient.connect()
        let quota = RedisClientQuota(client: client, connectionOn: { _ in loopClient.readyConnection }, logger: Logger(label: "cost"))
        func evalsha() async throws -> String {
            let stats = try await client.send(["INFO", "commandstats"]).string ?? ""
            return String(stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_evalsha:") } ?? "")
        }
        /// The script's total Redis time (`usec` of EVALSHA: the commands inside included) per admission.
        func usecPerAdmission(_ admissions: Int) async throws -> String {
            let line = try await evalsha()
            guard let range = line.range(of: "usec=") else { return "–" }
            let usec = Double(line[range.upperBound...].prefix(while: \.isNumber)) ?? 0
            return String(format: "%.1f µs per admission", usec / Double(admissions))
        }
        let count = 4000
        let rpmAndConcurrency = ClientKeyLimits(rpm: 1_000_000, maxConcurrent: 1000)
        for (name, limits) in [("every limit", Self.limits), ("rpm + max_concurrent", rpmAndConcurrency)] {
            _ = try await client.send(["FLUSHALL"])
            _ = try await client.send(["CONFIG", "RESETSTAT"])
            for index in 0..<count {
                let request = QuotaRequest(clientKey: Int64(index & 3), limits: limits, reservedTokens: 500, lease: "req-\(index)")
                guard case .admitted(let ticket, _) = try await quota.admit(request, on: loop).get() else { Issue.record("refused"); return }
                try await quota.apply(settle: ticket, usedTokens: 300, on: loop).get()
            }
            print("client_quota.lua, \(name), admit and settle alternating (\(count / 4) admissions per key in its rpm window): "
                + "\(try await evalsha()); \(try await usecPerAdmission(count))")
        }
        // As the proxy sends them: each settle queued on the loop and carried by the key's next admit (one call per request).
        let riding = RedisClientQuota(client: client, connectionOn: { _ in loopClient.readyConnection }, eventLoops: [loop],
                                      giveBackBound: .seconds(600), logger: Logger(label: "cost"))
        for (name, limits) in [("every limit", Self.limits), ("rpm + max_concurrent", rpmAndConcurrency)] {
            _ = try await client.send(["FLUSHALL"])
            _ = try await client.send(["CONFIG", "RESETSTAT"])
            var last: [Int64: QuotaTicket] = [:]
            for index in 0..<count {
                let key = Int64(index & 3)
                let request = QuotaRequest(clientKey: key, limits: limits, reservedTokens: 500, lease: "req-\(index)")
                let previous = last[key]
                let decision = try await loop.flatSubmit { () -> EventLoopFuture<QuotaDecision> in
                    if let previous { riding.settle(previous, usedTokens: 300, on: loop) }
                    return riding.admit(request, on: loop)
                }.get()
                guard case .admitted(let ticket, _) = decision else { Issue.record("refused"); return }
                last[key] = ticket
            }
            print("client_quota.lua, \(name), each settle riding the key's next admit: \(try await evalsha()); \(try await usecPerAdmission(count))")
        }
        // The pool's acquire, for comparison: the same Redis, the same machine.
        let coordinator = RedisKeyCoordinator(client: client, logger: Logger(label: "cost"))
        await coordinator.syncPool(PoolDefinition(id: 1, keyIDs: Array(1...10), pacingInterval: 0, version: 1))
        _ = try await client.send(["CONFIG", "RESETSTAT"])
        for _ in 0..<count { _ = await coordinator.acquireKey(pool: 1, excluding: []) }
        print("key_coordinator.lua acquire (10 keys): \(try await evalsha())")
        await loopClient.shutdown()
        await client.shutdown()
    }
}
