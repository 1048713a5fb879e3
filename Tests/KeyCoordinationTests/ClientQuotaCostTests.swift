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

/// What one admit + settle costs, every limit set: CPU in memory, and Redis CPU per script call
/// (`INFO commandstats` usec_per_call). Run by hand: `QUOTA_COST=1 swift test --skip-build --filter ClientQuotaCostTests`.
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
        _ = try await client.send(["CONFIG", "RESETSTAT"])
        let count = 5000
        let started = ContinuousClock.now
        for index in 0..<count {
            let request = QuotaRequest(clientKey: Int64(index & 3), limits: Self.limits, reservedTokens: 500, lease: "req-\(index)")
            guard case .admitted(let ticket, _) = try await quota.admit(request, on: loop).get() else { Issue.record("refused"); return }
            try await quota.apply(settle: ticket, usedTokens: 300, on: loop).get()
        }
        let elapsed = ContinuousClock.now - started
        let stats = try await client.send(["INFO", "commandstats"]).string ?? ""
        let line = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_evalsha:") } ?? ""
        print("redis client_quota.lua (admit and settle alternating, every limit set, rpm window holding up to 1250 admissions per key): \(line)")
        print("round trip per call, client side: \(elapsed / (count * 2))")
        await loopClient.shutdown()
        await client.shutdown()
    }
}
