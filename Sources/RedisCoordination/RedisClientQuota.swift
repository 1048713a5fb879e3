import ClientAccess
import Foundation
import Logging
import Metrics
import NIOCore
import RedisClient
import Synchronization

/// Client keys' limits shared by every node through Redis: each admit, settle, release, renew and states is one atomic
/// `EVALSHA` of `client_quota.lua` (the semantics of `InMemoryClientQuota`, Redis' own clock), on the keys of the client
/// key's hash tag `{ck:<id>}`.
///
/// The proxy's commands go out on its event loop's own connection (the key coordinator's), so an admit issued in the same
/// loop tick as the pool's acquire leaves in the same write: one round trip for both. A request's settle (or release)
/// is not sent on its own: it is queued on its loop and rides the next admit of the same client key from that loop (in
/// the same `EVALSHA`, applied before the admission), or, when none comes within `defaultGiveBackBound` (2 ms), the
/// loop sends each client key's queue as one call. So a request of a key with concurrency or token limits costs one
/// script call, not two.
///
/// While Redis cannot be reached (errors, timeouts, no connection) each node enforces every limit divided by the live
/// nodes the heartbeat last counted (rounded down, at least 1) in memory, flags itself degraded (`isDegraded`, the
/// `rotator_client_quota_degraded` gauge, `/healthz`), and tries Redis again at most once a second until it answers
/// (that one request waits for the answer, bounded by the command timeout; the heartbeat checks too). Tickets admitted
/// locally are settled locally; what was admitted locally is not carried into Redis on its return.
public final class RedisClientQuota: ClientQuota {
    private let client: RedisClient
    private let connectionOn: @Sendable (any EventLoop) -> RedisConnection?
    private let logger: Logger
    /// Test hook: a clock to pass to the script instead of Redis `TIME` (nil in production).
    private let clockOverride: (@Sendable () -> Double)?
    private let fallback: InMemoryClientQuota
    private let liveNodes = Atomic<Int>(1)
    private let degraded = Atomic<Bool>(false)
    /// While degraded: when (uptime nanoseconds) an admit next tries Redis instead of answering locally.
    private let nextProbe = Atomic<Int64>(0)
    /// Leases admitted by the local fallback, settled there; `localCount` keeps the healthy path off the lock.
    private let localLeases = Mutex<Set<String>>([])
    private let localCount = Atomic<Int>(0)
    private let degradedGauge: Gauge
    /// Each proxy loop's queued settles and releases (fixed at init: looked up without a lock).
    private let giveBackQueues: [ObjectIdentifier: GiveBackQueue]

    /// How long a settle or release waits on its loop for the next admit of its client key to carry it, before the loop
    /// sends it alone. A key with steady traffic on the loop (an admit every few ms) has its settles carried; a quiet one
    /// sees them applied about a Redis round trip later than at once. The delay is on the safe side: a slot or a
    /// reservation is held a little longer (far below any window or the 30 s lease), never is more admitted.
    public static let defaultGiveBackBound = TimeAmount.milliseconds(2)
    private let giveBackBound: TimeAmount

    /// - Parameters:
    ///   - client: the shared client (admin states, and requests on a loop without a ready connection of its own).
    ///   - connectionOn: the proxy loop's own connection, e.g. `RedisKeyCoordinator.connection(on:)`.
    ///   - eventLoops: the proxy's loops: settles and releases called on one of them wait there for the key's next admit;
    ///     on any other loop they are sent at once.
    ///   - giveBackBound: how long they wait at most (tests lengthen it to hold them until an admit or a flush).
    public init(
        client: RedisClient, connectionOn: @escaping @Sendable (any EventLoop) -> RedisConnection? = { _ in nil }, eventLoops: [any EventLoop] = [],
        giveBackBound: TimeAmount = RedisClientQuota.defaultGiveBackBound, logger: Logger, clockOverride: (@Sendable () -> Double)? = nil,
        metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        self.giveBackBound = giveBackBound
        var queues: [ObjectIdentifier: GiveBackQueue] = [:]
        for loop in eventLoops { queues[ObjectIdentifier(loop)] = GiveBackQueue(eventLoop: loop) }
        self.giveBackQueues = queues
        self.client = client
        self.connectionOn = connectionOn
        self.logger = logger
        self.clockOverride = clockOverride
        self.fallback = InMemoryClientQuota(clock: clockOverride ?? { Date().timeIntervalSince1970 })
        self.degradedGauge = Gauge(label: "rotator_client_quota_degraded", factory: metricsFactory)
        degradedGauge.record(0)
    }

    /// True while Redis is unreachable and limits are enforced locally at this node's share.
    public var isDegraded: Bool { degraded.load(ordering: .relaxed) }

    /// The live nodes the heartbeat counted: while degraded, each limit is divided by it.
    public func setLiveNodeCount(_ count: Int) {
        liveNodes.store(max(count, 1), ordering: .relaxed)
    }

    public var liveNodeCount: Int { liveNodes.load(ordering: .relaxed) }

    // MARK: ClientQuota

    /// Nil while Redis is healthy (the caller takes `admit(_:on:)`); while degraded, the local answer, except once a
    /// second when the admit goes to Redis to see whether it is back.
    public func admitImmediately(_ request: QuotaRequest) -> QuotaDecision? {
        guard isDegraded else { return nil }
        let now = NIODeadline.now().uptimeNanoseconds
        let probe = nextProbe.load(ordering: .relaxed)
        if Int64(now) >= probe, nextProbe.compareExchange(expected: probe, desired: Int64(now) + 1_000_000_000, ordering: .relaxed).exchanged {
            return nil
        }
        return admitLocally(request)
    }

    /// Carries the settles and releases of the same client key queued on this loop (applied first: what they free counts).
    public func admit(_ request: QuotaRequest, on eventLoop: any EventLoop) -> EventLoopFuture<QuotaDecision> {
        let givingBack = giveBackQueue(on: eventLoop)?.take(clientKey: request.clientKey) ?? []
        return run(.admit(request, givingBack: givingBack), on: eventLoop).flatMapThrowing { try ClientQuotaReply($0).decision(for: request) }
            .flatMapError { error in
                self.wentAway(error)
                return eventLoop.makeSucceededFuture(self.admitLocally(request))
            }
    }

    public func settle(_ ticket: QuotaTicket, usedTokens: Int64, on eventLoop: any EventLoop) {
        guard !settlesLocally(ticket, remove: true) else {
            fallback.settle(ticket, usedTokens: usedTokens)
            return
        }
        guard ticket.settleChangesSomething else { return }
        giveBack(QuotaGiveBack(ticket: ticket, usedTokens: usedTokens), on: eventLoop)
    }

    public func release(_ ticket: QuotaTicket, on eventLoop: any EventLoop) {
        guard !settlesLocally(ticket, remove: true) else {
            fallback.release(ticket)
            return
        }
        giveBack(QuotaGiveBack(ticket: ticket, usedTokens: nil), on: eventLoop)
    }

    public func renew(_ ticket: QuotaTicket, on eventLoop: any EventLoop) {
        guard ticket.request.limits.maxConcurrent != nil else { return }
        guard !settlesLocally(ticket, remove: false) else {
            fallback.renew(ticket)
            return
        }
        sendAndForget(.renew(ticket), on: eventLoop)
    }

    public func states(clientKey: Int64, limits: ClientKeyLimits) async -> [LimitState] {
        do {
            return try ClientQuotaReply(try await runOverTask(.states(limits), clientKey: clientKey)).states(limits)
        } catch {
            return fallback.currentStates(clientKey: clientKey, limits: limits.share(ofNodes: liveNodeCount))
        }
    }

    /// While degraded, one call to Redis (a states read of no key): when it answers, limits are shared again.
    public func checkRecovered() async {
        guard isDegraded else { return }
        _ = try? await runOverTask(.states(ClientKeyLimits()), clientKey: 0)
    }

    /// Like `settle`/`release`/`renew`, with a future that completes once Redis has applied it (tests, and callers
    /// that must order a later call after it from another connection).
    public func apply(settle ticket: QuotaTicket, usedTokens: Int64?, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        guard usedTokens == nil || ticket.settleChangesSomething else { return eventLoop.makeSucceededVoidFuture() }
        return run(.settle([QuotaGiveBack(ticket: ticket, usedTokens: usedTokens)]), on: eventLoop).map { _ in }
    }

    public func apply(renew ticket: QuotaTicket, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        run(.renew(ticket), on: eventLoop).map { _ in }
    }

    // MARK: Settles and releases riding on admits

    /// A graceful stop: every loop sends what it has queued (one call per client key) and waits for Redis to apply it.
    public func flushGiveBacks() async {
        for queue in giveBackQueues.values {
            let applied = queue.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
                queue.timer?.cancel()
                queue.timer = nil
                let sent = queue.takeAll().map { self.run(.settle($0), on: queue.eventLoop).map { _ in } }
                return EventLoopFuture.andAllComplete(sent, on: queue.eventLoop)
            }
            try? await applied.get()
        }
    }

    /// The loop's queue when the caller is on one of the proxy's loops; nil otherwise (sent at once).
    private func giveBackQueue(on eventLoop: any EventLoop) -> GiveBackQueue? {
        guard !giveBackQueues.isEmpty, let queue = giveBackQueues[ObjectIdentifier(eventLoop)], eventLoop.inEventLoop else { return nil }
        return queue
    }

    /// Queued for the key's next admit from this loop; the loop's flush is armed if it is not yet.
    private func giveBack(_ group: QuotaGiveBack, on eventLoop: any EventLoop) {
        guard let queue = giveBackQueue(on: eventLoop) else { return sendAndForget(.settle([group]), on: eventLoop) }
        let now = NIODeadline.now()
        queue.add(group, now: now)
        if queue.timer == nil { armFlush(queue, at: now + giveBackBound) }
    }

    private func armFlush(_ queue: GiveBackQueue, at deadline: NIODeadline) {
        queue.timer = queue.eventLoop.scheduleTask(deadline: deadline) { self.flushDue(queue) }
    }

    /// On the loop: what waited `giveBackBound` without an admit to carry it goes now, one call per client key (each
    /// key's data is on its own hash tag, one Redis Cluster slot); the flush is armed again for the rest.
    private func flushDue(_ queue: GiveBackQueue) {
        queue.timer = nil
        let now = NIODeadline.now()
        for groups in queue.take(queuedBy: now - giveBackBound) { sendAndForget(.settle(groups), on: queue.eventLoop) }
        if let oldest = queue.oldest { armFlush(queue, at: max(oldest + giveBackBound, now)) }
    }

    // MARK: Script plumbing

    static let script = RedisScript(ClientQuotaScript.source)

    /// The five keys of a client key, under its own hash tag (one Redis Cluster slot); `cq1` is the data layout version.
    static func keys(clientKey: Int64) -> [RedisArgument] {
        let tag = "cq1:{ck:\(clientKey)}"
        return [RedisArgument(tag + ":r"), RedisArgument(tag + ":t"), RedisArgument(tag + ":ta"), RedisArgument(tag + ":c"),
                RedisArgument(tag + ":cal")]
    }

    private func arguments(_ command: ClientQuotaCommand) -> [RedisArgument] {
        let clock = clockOverride.map { String(format: "%.6f", $0()) } ?? ""
        return command.arguments(clock: clock).map { RedisArgument($0) }
    }

    /// On the loop's own connection when it has one (the future completes there); otherwise over the shared client.
    private func run(_ command: ClientQuotaCommand, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        let clientKey = command.clientKey ?? 0
        guard let connection = connectionOn(eventLoop) else {
            return eventLoop.makeFutureWithTask { try await self.runOverTask(command, clientKey: clientKey) }
        }
        return connection.evalScriptFuture(Self.script, keys: Self.keys(clientKey: clientKey), args: arguments(command)).map { reply in
            self.recovered()
            return reply
        }
    }

    private func runOverTask(_ command: ClientQuotaCommand, clientKey: Int64) async throws -> RESPValue {
        let client = self.client
        let keys = Self.keys(clientKey: clientKey)
        let args = arguments(command)
        let reply = try await RedisKeyCoordinator.withDeadline(client.configuration.commandTimeout * 2, logger: logger) {
            try await client.evalScript(Self.script, keys: keys, args: args)
        }
        recovered()
        return reply
    }

    private func sendAndForget(_ command: ClientQuotaCommand, on eventLoop: any EventLoop) {
        run(command, on: eventLoop).whenFailure { error in
            // A lost settle leaves the reservation counted and the lease to expire by itself: never more than the limit.
            self.wentAway(error)
        }
    }

    // MARK: Local fallback

    private func admitLocally(_ request: QuotaRequest) -> QuotaDecision {
        var local = request
        local.limits = request.limits.share(ofNodes: liveNodeCount)
        let decision = fallback.admit(local, at: clockOverride?() ?? Date().timeIntervalSince1970)
        guard case .admitted(var ticket, let states) = decision else {
            guard case .refused(let limit, _, let retryAfter, let states) = decision else { return decision }
            return .refused(limit: limit, value: local.limits[limit] ?? 0, retryAfter: retryAfter, states: states)
        }
        localLeases.withLock { _ = $0.insert(request.lease) }
        localCount.add(1, ordering: .relaxed)
        ticket.request = local
        return .admitted(ticket, states: states)
    }

    /// Whether the ticket was admitted locally (only ever looked up after a degraded spell).
    private func settlesLocally(_ ticket: QuotaTicket, remove: Bool) -> Bool {
        guard localCount.load(ordering: .relaxed) > 0 else { return false }
        return localLeases.withLock { leases in
            guard remove else { return leases.contains(ticket.request.lease) }
            guard leases.remove(ticket.request.lease) != nil else { return false }
            localCount.subtract(1, ordering: .relaxed)
            return true
        }
    }

    private func wentAway(_ error: any Error) {
        guard degraded.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        nextProbe.store(Int64(NIODeadline.now().uptimeNanoseconds) + 1_000_000_000, ordering: .relaxed)
        degradedGauge.record(1)
        logger.warning(
            "redis unreachable: enforcing client key limits locally at limit ÷ \(liveNodeCount) live nodes", metadata: ["error": "\(error)"]
        )
    }

    private func recovered() {
        guard degraded.load(ordering: .relaxed), degraded.compareExchange(expected: true, desired: false, ordering: .relaxed).exchanged else { return }
        degradedGauge.record(0)
        logger.notice("redis reachable again: client key limits shared by the fleet again")
    }
}

/// The settles and releases queued on one proxy loop, by client key, until an admit of that key carries them or the
/// flush sends them. Touched only on its loop (hence unchecked: no lock on the request path).
private final class GiveBackQueue: @unchecked Sendable {
    let eventLoop: any EventLoop
    /// Per client key: when the first of its queued give-backs was queued, and them in order.
    private var queued: [Int64: (since: NIODeadline, groups: [QuotaGiveBack])] = [:]
    /// The armed flush (nil: none armed).
    var timer: Scheduled<Void>?

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func add(_ group: QuotaGiveBack, now: NIODeadline) {
        eventLoop.assertInEventLoop()
        queued[group.ticket.request.clientKey, default: (since: now, groups: [])].groups.append(group)
    }

    func take(clientKey: Int64) -> [QuotaGiveBack] {
        eventLoop.assertInEventLoop()
        guard !queued.isEmpty else { return [] }
        return queued.removeValue(forKey: clientKey)?.groups ?? []
    }

    /// Each client key's queue whose first give-back was queued by `cutoff`.
    func take(queuedBy cutoff: NIODeadline) -> [[QuotaGiveBack]] {
        eventLoop.assertInEventLoop()
        let due = queued.filter { $0.value.since <= cutoff }
        for key in due.keys { queued[key] = nil }
        return due.values.map(\.groups)
    }

    func takeAll() -> [[QuotaGiveBack]] {
        take(queuedBy: .distantFuture)
    }

    /// When the longest-waiting queue started.
    var oldest: NIODeadline? { queued.values.lazy.map(\.since).min() }
}
