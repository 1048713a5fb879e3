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

/// The quota behaviour suite against a real redis-server (the script gets the test's clock instead of Redis TIME),
/// and what only Redis has: many callers at once, the pool's acquire in the same write, the fallback while it is away.
@Suite(.serialized, .enabled(if: RedisTestServer.shouldRun)) final class RedisClientQuotaTests {
    let server: RedisTestServer
    let client: RedisClient

    init() async throws {
        server = try await RedisTestServer.start()
        client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
    }

    deinit {
        server.stop()
        let client = self.client
        Task { await client.shutdown() }
    }

    /// Each call awaited until Redis applied it.
    private var make: QuotaHarnessFactory { harness(riding: false) }
    /// The quota as the proxy uses it: admits issued on the loop carry the settles and releases queued there, which wait
    /// until an admit or the admin view's states send them (the bound is long: no timer sends them meanwhile).
    private var riding: QuotaHarnessFactory { harness(riding: true) }

    private func harness(riding: Bool) -> QuotaHarnessFactory {
        let client = self.client
        return { start in
            let clock = ManualClock(start)
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let quota = RedisClientQuota(
                client: client, eventLoops: riding ? [loop] : [], giveBackBound: .seconds(600), logger: Logger(label: "quota"),
                clockOverride: { clock.now() }
            )
            return QuotaHarness(
                quota: riding ? SettlesFirstQuota(inner: quota) : quota, clock: clock,
                admit: { request in
                    do {
                        return try await loop.flatSubmit { quota.admit(request, on: loop) }.get()
                    } catch {
                        Issue.record("\(error)")
                        return .refused(limit: .rpm, value: 0, retryAfter: nil, states: [])
                    }
                },
                settle: { ticket, used in
                    do {
                        guard riding else { return try await quota.apply(settle: ticket, usedTokens: used, on: loop).get() }
                        try await loop.submit {
                            if let used { quota.settle(ticket, usedTokens: used, on: loop) } else { quota.release(ticket, on: loop) }
                        }.get()
                    } catch { Issue.record("\(error)") }
                },
                renew: { ticket in
                    do { try await quota.apply(renew: ticket, on: loop).get() } catch { Issue.record("\(error)") }
                }
            )
        }
    }

    @Test func rpmRollsOverSixtySeconds() async { await QuotaBehaviour.rpmRollsOverSixtySeconds(make) }
    @Test func concurrencyLeasesExpireUnlessRenewed() async { await QuotaBehaviour.concurrencyLeasesExpireUnlessRenewed(make) }
    @Test func dailyBudgetRollsOverAtUTCMidnight() async { await QuotaBehaviour.dailyBudgetRollsOverAtUTCMidnight(make) }
    @Test func monthlyBudgetRollsOverAtMonthStart() async { await QuotaBehaviour.monthlyBudgetRollsOverAtMonthStart(make) }
    @Test func reservationsAreCountedThenSettled() async { await QuotaBehaviour.reservationsAreCountedThenSettled(make) }
    @Test func tokensPerMinuteRoll() async { await QuotaBehaviour.tokensPerMinuteRoll(make) }
    @Test func releaseGivesEverythingBack() async { await QuotaBehaviour.releaseGivesEverythingBack(make) }
    @Test func releaseAndSettleFindTheirOwnAdmission() async { await QuotaBehaviour.releaseAndSettleFindTheirOwnAdmission(make) }
    @Test func statesShowEveryConfiguredLimit() async { await QuotaBehaviour.statesShowEveryConfiguredLimit(make) }

    @Test func ridingRpmRollsOverSixtySeconds() async { await QuotaBehaviour.rpmRollsOverSixtySeconds(riding) }
    @Test func ridingConcurrencyLeasesExpireUnlessRenewed() async { await QuotaBehaviour.concurrencyLeasesExpireUnlessRenewed(riding) }
    @Test func ridingDailyBudgetRollsOverAtUTCMidnight() async { await QuotaBehaviour.dailyBudgetRollsOverAtUTCMidnight(riding) }
    @Test func ridingMonthlyBudgetRollsOverAtMonthStart() async { await QuotaBehaviour.monthlyBudgetRollsOverAtMonthStart(riding) }
    @Test func ridingReservationsAreCountedThenSettled() async { await QuotaBehaviour.reservationsAreCountedThenSettled(riding) }
    @Test func ridingTokensPerMinuteRoll() async { await QuotaBehaviour.tokensPerMinuteRoll(riding) }
    @Test func ridingReleaseGivesEverythingBack() async { await QuotaBehaviour.releaseGivesEverythingBack(riding) }
    @Test func ridingStatesShowEveryConfiguredLimit() async { await QuotaBehaviour.statesShowEveryConfiguredLimit(riding) }

    /// A quota on a loop with its own connection (as the proxy's), the script loaded, the statistics reset.
    private func quotaOnALoop(bound: TimeAmount = RedisClientQuota.defaultGiveBackBound) async throws
        -> (quota: RedisClientQuota, loop: any EventLoop, loopClient: RedisClient)
    {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let loopClient = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port), eventLoopGroup: loop)
        try await loopClient.connect()
        let quota = RedisClientQuota(client: client, connectionOn: { _ in loopClient.readyConnection }, eventLoops: [loop], giveBackBound: bound,
                                     logger: Logger(label: "loop"))
        _ = try await loop.flatSubmit { quota.admit(QuotaBehaviour.request(999, ClientKeyLimits(rpm: 1000)), on: loop) }.get()
        _ = try await client.send(["CONFIG", "RESETSTAT"])
        return (quota, loop, loopClient)
    }

    /// Script calls Redis ran since the statistics were reset (`EVALSHA` and `EVAL`).
    private func scriptCalls() async throws -> Int {
        let stats = try await client.send(["INFO", "commandstats"]).string ?? ""
        let lines = stats.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("cmdstat_evalsha:") || $0.hasPrefix("cmdstat_eval:") }
        return lines.reduce(0) { sum, line in
            guard let range = line.range(of: "calls=") else { return sum }
            return sum + (Int(line[range.upperBound...].prefix(while: \.isNumber)) ?? 0)
        }
    }

    /// Polls (bounded) until the client key holds no concurrency lease in Redis.
    private func leasesEnd(clientKey: Int64) async throws -> Int64 {
        var open: Int64 = -1
        for _ in 0..<500 {
            open = try await client.send(["ZCARD", "cq1:{ck:\(clientKey)}:c"]).int ?? -1
            if open == 0 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        return open
    }

    /// max_concurrent 1: A admitted, A's settle queued, B's admit in the same loop tick carries it. The slot A frees
    /// counts for B, and Redis ran two script calls for the two requests, not three.
    @Test func aQueuedSettleRidesTheNextAdmitAndFreesTheSlotForIt() async throws {
        let (quota, loop, loopClient) = try await quotaOnALoop()
        let one = ClientKeyLimits(tpm: 1000, maxConcurrent: 1)
        guard case .admitted(let ticket, _) = try await loop.flatSubmit({ quota.admit(QuotaBehaviour.request(31, one, tokens: 50), on: loop) }).get()
        else { Issue.record("A not admitted"); return }
        let next = try await loop.flatSubmit { () -> EventLoopFuture<QuotaDecision> in
            quota.settle(ticket, usedTokens: 20, on: loop)
            return quota.admit(QuotaBehaviour.request(31, one, tokens: 50), on: loop)
        }.get()
        guard case .admitted(_, let states) = next else {
            Issue.record("B refused: A's settle did not free the slot first: \(next)")
            await loopClient.shutdown()
            return
        }
        #expect(try await scriptCalls() == 2, "admit A, then admit B carrying A's settle")
        let tokensLeft = states.first { $0.limit == .tpm }.map(\.remaining)
        #expect(tokensLeft == 930, "A's tokens settled to 20 before B reserved 50 (of 1000)")
        await loopClient.shutdown()
    }

    /// No admit follows: the loop sends the key's queue by itself, shortly (polled, bounded), both settles in one call.
    @Test func settlesWithNoAdmitAfterThemAreSentByTheLoopInOneCall() async throws {
        let (quota, loop, loopClient) = try await quotaOnALoop()
        let two = ClientKeyLimits(maxConcurrent: 2)
        var tickets: [QuotaTicket] = []
        for _ in 0..<2 {
            guard case .admitted(let ticket, _) = try await loop.flatSubmit({ quota.admit(QuotaBehaviour.request(32, two), on: loop) }).get()
            else { Issue.record("not admitted"); return }
            tickets.append(ticket)
        }
        _ = try await client.send(["CONFIG", "RESETSTAT"])
        try await loop.submit { for ticket in tickets { quota.settle(ticket, usedTokens: 0, on: loop) } }.get()
        #expect(try await leasesEnd(clientKey: 32) == 0, "the queued settles were never sent")
        #expect(try await scriptCalls() == 1, "both settles of the key in one call")
        await loopClient.shutdown()
    }

    /// Several settles and a release of one key go as one call (a graceful stop's flush sends them), another key's as
    /// its own (its own hash tag); each applied as alone.
    @Test func aBatchSettlesAndReleasesSeveralTicketsOfAKeyInOneCall() async throws {
        let (quota, loop, loopClient) = try await quotaOnALoop(bound: .seconds(600))
        let limits = ClientKeyLimits(rpm: 10, tpm: 1000, maxConcurrent: 5, dailyTokens: 1000)
        var tickets: [QuotaTicket] = []
        for key: Int64 in [33, 33, 33, 33, 34] {
            let request = QuotaBehaviour.request(key, limits, tokens: 100)
            guard case .admitted(let ticket, _) = try await loop.flatSubmit({ quota.admit(request, on: loop) }).get() else {
                Issue.record("not admitted")
                return
            }
            tickets.append(ticket)
        }
        _ = try await client.send(["CONFIG", "RESETSTAT"])
        let used: [Int64?] = [10, 20, nil, 0, 5]
        for (ticket, used) in zip(tickets, used) {
            // One loop tick each: they wait in the queue (the bound is long) until the flush.
            try await loop.submit {
                if let used { quota.settle(ticket, usedTokens: used, on: loop) } else { quota.release(ticket, on: loop) }
            }.get()
        }
        #expect(try await scriptCalls() == 0, "queued, not sent")
        await quota.flushGiveBacks()
        #expect(try await scriptCalls() == 2, "one call per client key")
        let states = await quota.states(clientKey: 33, limits: limits)
        // rpm: 4 admitted, 1 released. Tokens: 10 + 20 + 0 settled, the release's 100 given back. No lease left.
        #expect(states.map(\.remaining) == [7, 970, 5, 970], "\(states)")
        #expect(await quota.states(clientKey: 34, limits: limits).map(\.remaining) == [9, 995, 5, 995])
        await loopClient.shutdown()
    }

    /// Redis answers over a connection: nothing at once while it is healthy.
    @Test func answersNothingAtOnce() {
        let quota = RedisClientQuota(client: client, logger: Logger(label: "q"))
        #expect(quota.admitImmediately(QuotaBehaviour.request(1, ClientKeyLimits(rpm: 1))) == nil)
    }

    /// Every key of a client key lives under its own hash tag, and expires by itself.
    @Test func keysShareTheClientKeysHashTagAndExpire() async throws {
        let quota = RedisClientQuota(client: client, logger: Logger(label: "tag"))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let limits = ClientKeyLimits(rpm: 5, tpm: 100, maxConcurrent: 2, dailyRequests: 9, monthlyTokens: 1000)
        _ = try await quota.admit(QuotaBehaviour.request(42, limits, tokens: 10), on: loop).get()
        let keys = try await client.send(["KEYS", "*"]).array?.compactMap(\.string).sorted() ?? []
        #expect(keys == ["cq1:{ck:42}:c", "cq1:{ck:42}:cal", "cq1:{ck:42}:r", "cq1:{ck:42}:t", "cq1:{ck:42}:ta"])
        for key in keys { #expect((try await client.send(["PTTL", key]).int ?? -1) > 0, "\(key) has no expiry") }
    }

    /// Two nodes and 200 concurrent admits against one Redis: exactly the limit is admitted.
    @Test func concurrentAdmitsMeetTheLimitExactly() async throws {
        let nodeA = RedisClientQuota(client: client, logger: Logger(label: "a"))
        let other = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        let nodeB = RedisClientQuota(client: other, logger: Logger(label: "b"))
        let limits = ClientKeyLimits(rpm: 37, maxConcurrent: 50)
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                let quota = index.isMultiple(of: 2) ? nodeA : nodeB
                group.addTask {
                    let loop = MultiThreadedEventLoopGroup.singleton.next()
                    guard case .admitted = try? await quota.admit(QuotaBehaviour.request(77, limits), on: loop).get() else { return false }
                    return true
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 37)
        #expect(!nodeA.isDegraded && !nodeB.isDegraded)
        await other.shutdown()
    }

    /// An admit and the pool's acquire issued in one loop tick leave in one write on the loop's connection: Redis reads
    /// both in one read (its `total_reads_processed`), and answers them in one round trip.
    @Test func admitAndAcquireShareOneWrite() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let loopClient = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port), eventLoopGroup: loop)
        let coordinator = RedisKeyCoordinator(client: client, loopClients: [loopClient], logger: Logger(label: "pool"))
        let quota = RedisClientQuota(client: client, connectionOn: { coordinator.connection(on: $0) }, logger: Logger(label: "q"))
        await coordinator.syncPool(PoolDefinition(id: 3, keyIDs: [1, 2], pacingInterval: 0, version: 1))
        await coordinator.connectLoopClients()
        let limits = ClientKeyLimits(rpm: 1000, maxConcurrent: 100, dailyTokens: 1_000_000)
        // Warm up: both scripts loaded, the connection ready.
        _ = try await loop.flatSubmit {
            quota.admit(QuotaBehaviour.request(5, limits), on: loop).and(coordinator.acquireKey(pool: 3, excluding: [], model: nil, on: loop))
        }.get()
        let rounds = 40
        let reads = try await readsProcessed {
            for _ in 0..<rounds {
                let (decision, acquisition) = try await loop.flatSubmit {
                    quota.admit(QuotaBehaviour.request(5, limits, tokens: 10), on: loop)
                        .and(coordinator.acquireKey(pool: 3, excluding: [], model: nil, on: loop))
                }.get()
                guard case .admitted = decision, case .key = acquisition else {
                    Issue.record("\(decision) \(acquisition)")
                    return
                }
            }
        }
        // One read per round (both commands in it), plus the INFO that measures; two per round if they went apart.
        #expect(reads <= rounds + 2, "\(reads) reads for \(rounds) admit+acquire rounds")
        #expect(!quota.isDegraded)
        await coordinator.shutdownLoopClients()
    }

    /// Redis paused: each node enforces limit ÷ live nodes locally, degraded; back to Redis once it answers again.
    @Test func fallsBackToTheNodesShareWhileRedisIsAway() async throws {
        let quick = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port, commandTimeout: .milliseconds(300)))
        let quota = RedisClientQuota(client: quick, logger: Logger(label: "away"))
        quota.setLiveNodeCount(3)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let limits = ClientKeyLimits(rpm: 10, maxConcurrent: 100)
        let admit: @Sendable () async -> QuotaDecision? = {
            if let decision = quota.admitImmediately(QuotaBehaviour.request(9, limits)) { return decision }
            return try? await quota.admit(QuotaBehaviour.request(9, limits), on: loop).get()
        }
        guard case .admitted = await admit() else { Issue.record("redis admit"); return }
        server.pause()
        var admitted = 0
        var refusal: QuotaDecision?
        for _ in 0..<10 {
            let decision = await admit()
            if case .admitted(let ticket, _) = decision {
                admitted += 1
                #expect(ticket.request.limits.rpm == 3)
            } else {
                refusal = decision
            }
        }
        #expect(admitted == 3, "10 ÷ 3 live nodes, rounded down")
        guard case .refused(.rpm, 3, _, _)? = refusal else {
            Issue.record("\(String(describing: refusal))")
            server.resume()
            return
        }
        #expect(quota.isDegraded)
        server.resume()
        var recovered = false
        for _ in 0..<300 where !recovered {
            try await Task.sleep(for: .milliseconds(100))
            _ = await admit()
            recovered = !quota.isDegraded
        }
        #expect(recovered)
        // Shared again: Redis counts (the first admission, and those since the recovery), not the local share.
        let states = await quota.states(clientKey: 9, limits: limits)
        #expect(states.first?.value == 10)
        await quick.shutdown()
    }

    /// A ticket admitted locally while Redis is away is given back locally: its slot frees on this node.
    @Test func localTicketsAreGivenBackLocally() async throws {
        let quick = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port, commandTimeout: .milliseconds(300)))
        let quota = RedisClientQuota(client: quick, logger: Logger(label: "local"))
        quota.setLiveNodeCount(2)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let limits = ClientKeyLimits(maxConcurrent: 3)
        let admit: @Sendable () async -> QuotaDecision? = {
            if let decision = quota.admitImmediately(QuotaBehaviour.request(12, limits)) { return decision }
            return try? await quota.admit(QuotaBehaviour.request(12, limits), on: loop).get()
        }
        server.pause()
        guard case .admitted(let ticket, _)? = await admit() else { Issue.record("no local admission"); server.resume(); return }
        #expect(quota.isDegraded)
        guard case .refused(.concurrent, 1, _, _)? = await admit() else { Issue.record("3 ÷ 2 nodes is 1"); server.resume(); return }
        quota.release(ticket, on: loop)
        // Redis still away: only the local lease's release can free the slot.
        let again = await admit()
        server.resume()
        guard case .admitted? = again else {
            Issue.record("the local lease was not given back: \(String(describing: again))")
            return
        }
        await quick.shutdown()
    }

    /// A key with only request counts has nothing to settle: its requests' end costs no Redis call.
    @Test func settlingAKeyWithoutLeasesOrTokensCostsNoCall() async throws {
        let quota = RedisClientQuota(client: client, logger: Logger(label: "settle"))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let counts = ClientKeyLimits(rpm: 10, dailyRequests: 100)
        guard case .admitted(let ticket, _) = try await quota.admit(QuotaBehaviour.request(13, counts), on: loop).get() else {
            Issue.record("not admitted")
            return
        }
        _ = try await client.send(["CONFIG", "RESETSTAT"])
        try await quota.apply(settle: ticket, usedTokens: 50, on: loop).get()
        let stats = try await client.send(["INFO", "commandstats"]).string ?? ""
        #expect(!stats.contains("cmdstat_evalsha"), "\(stats)")
        #expect(await quota.states(clientKey: 13, limits: counts).map(\.remaining) == [9, 99])
    }

    /// Redis' `total_reads_processed` during `body`.
    private func readsProcessed(_ body: () async throws -> Void) async throws -> Int {
        func reads() async throws -> Int {
            let info = try await client.send(["INFO", "stats"]).string ?? ""
            let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_reads_processed:") } ?? ""
            return Int(line.split(separator: ":").last ?? "") ?? -1
        }
        let before = try await reads()
        try await body()
        return try await reads() - before
    }
}

/// The Redis quota with the admin view's states read once the loops' queued settles are sent: the behaviour suite's
/// state checks then see every settle it made, as they do in memory.
struct SettlesFirstQuota: ClientQuota {
    let inner: RedisClientQuota

    func admitImmediately(_ request: QuotaRequest) -> QuotaDecision? { inner.admitImmediately(request) }
    func admit(_ request: QuotaRequest, on eventLoop: any EventLoop) -> EventLoopFuture<QuotaDecision> { inner.admit(request, on: eventLoop) }
    func settle(_ ticket: QuotaTicket, usedTokens: Int64, on eventLoop: any EventLoop) { inner.settle(ticket, usedTokens: usedTokens, on: eventLoop) }
    func release(_ ticket: QuotaTicket, on eventLoop: any EventLoop) { inner.release(ticket, on: eventLoop) }
    func renew(_ ticket: QuotaTicket, on eventLoop: any EventLoop) { inner.renew(ticket, on: eventLoop) }
    func states(clientKey: Int64, limits: ClientKeyLimits) async -> [LimitState] {
        await inner.flushGiveBacks()
        return await inner.states(clientKey: clientKey, limits: limits)
    }
}
