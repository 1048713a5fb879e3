import Foundation
import KeyCoordination
import Logging
import Metrics
import NIOCore
import RedisClient
import RotatorCore
import Synchronization

/// Key coordination shared by every node through Redis: one Lua script call per operation, atomic, using
/// Redis' own clock. While Redis cannot be reached it falls back to the same algorithm in memory (each key
/// paced at its rate divided by the live node count), flags itself degraded, and re-seeds Redis when it returns.
public final class RedisKeyCoordinator: KeyCoordinator {
    private let client: RedisClient
    /// One client per proxy event loop, keyed by the loop: the proxy's `EVALSHA` runs on its own loop's connection.
    private let loopClients: [ObjectIdentifier: RedisClient]
    private let fallback: InMemoryKeyCoordinator
    private let policy: CoordinationPolicy
    private let logger: Logger
    /// Test hook: a clock to pass to the script instead of Redis `TIME` (nil in production).
    private let clockOverride: (@Sendable () -> Double)?
    private let pools = Mutex<[Int64: PoolDefinition]>([:])
    private let degradedSince = Mutex<Date?>(nil)
    /// Live nodes last seen by the heartbeat; divides a key's rate while this node selects alone.
    private let liveNodes = Atomic<Int>(1)
    /// Keys handed out while they had rejections in a row: only their successes need a round trip to reset it.
    private let keysWithRejections = Mutex<Set<Int64>>([])
    private let roundTrips: Timer
    private let errors: Counter
    private let degradedEvents: Counter
    private let degradedGauge: Gauge

    public init(
        client: RedisClient, loopClients: [RedisClient] = [], policy: CoordinationPolicy = .standard, logger: Logger,
        clockOverride: (@Sendable () -> Double)? = nil, metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        var byLoop: [ObjectIdentifier: RedisClient] = [:]
        for loopClient in loopClients { byLoop[ObjectIdentifier(loopClient.boundEventLoop)] = loopClient }
        self.loopClients = byLoop
        self.roundTrips = Timer(label: "rotator_redis_roundtrip_seconds", factory: metricsFactory)
        self.errors = Counter(label: "rotator_redis_errors_total", factory: metricsFactory)
        self.degradedEvents = Counter(label: "rotator_degraded_events_total", factory: metricsFactory)
        self.degradedGauge = Gauge(label: "rotator_degraded", factory: metricsFactory)
        self.degradedGauge.record(0)
        self.client = client
        self.policy = policy
        self.logger = logger
        self.clockOverride = clockOverride
        self.fallback = InMemoryKeyCoordinator(policy: policy)
    }

    /// True while Redis is unreachable and selection is node-local.
    public var isDegraded: Bool { degradedSince.withLock { $0 != nil } }

    public func setLiveNodeCount(_ count: Int) {
        liveNodes.store(max(count, 1), ordering: .relaxed)
    }

    // MARK: KeyCoordinator

    public func syncPool(_ definition: PoolDefinition) async {
        pools.withLock { $0[definition.id] = definition }
        await fallback.syncPool(localDefinition(definition))
        _ = try? await seed(definition)
    }

    public func removePool(id: Int64) async {
        pools.withLock { $0[id] = nil }
        await fallback.removePool(id: id)
        _ = try? await run(pool: id, .remove)
    }

    public func acquireKey(pool: Int64, excluding excluded: Set<Int64>, model: String?) async -> KeyAcquisition {
        let command = acquireCommand(pool: pool, excluding: excluded, model: model)
        do {
            return try acquisition(from: try await runReseeding(pool: pool, command))
        } catch {
            return await degraded(error) { await self.fallback.acquireKey(pool: pool, excluding: excluded, model: model) }
        }
    }

    /// On the proxy's loop: one `EVALSHA` on that loop's connection. Before it has connected, and for the rare re-seed,
    /// the task-based path answers instead.
    public func acquireKey(
        pool: Int64, excluding excluded: Set<Int64>, model: String?, on eventLoop: any EventLoop
    ) -> EventLoopFuture<KeyAcquisition> {
        let command = acquireCommand(pool: pool, excluding: excluded, model: model)
        return onLoop(eventLoop, pool: pool, command, decide: { try self.acquisition(from: $0) }) {
            await self.acquireKey(pool: pool, excluding: excluded, model: model)
        } local: {
            await self.fallback.acquireKey(pool: pool, excluding: excluded, model: model)
        }
    }

    /// On the proxy's loop like an acquire, on the same connection: a rest reported by one request reaches Redis before
    /// any later request's acquire on that loop, where a report sent from a task on the shared client could arrive after it.
    public func report(_ outcome: KeyOutcome, key: Int64, pool: Int64, on eventLoop: any EventLoop) -> EventLoopFuture<OutcomeEffect> {
        // The happy path stays one Redis round trip per request: a success needs none.
        guard let command = reportCommand(outcome, key: key, pool: pool) else { return eventLoop.makeSucceededFuture(.none) }
        return onLoop(eventLoop, pool: pool, command, decide: { try self.effect(of: $0, key: key) }) {
            await self.send(command, key: key, pool: pool, outcome: outcome)
        } local: {
            await self.fallback.report(outcome, key: key, pool: pool)
        }
    }

    @discardableResult
    public func report(_ outcome: KeyOutcome, key: Int64, pool: Int64) async -> OutcomeEffect {
        guard let command = reportCommand(outcome, key: key, pool: pool) else { return .none }
        return await send(command, key: key, pool: pool, outcome: outcome)
    }

    /// While degraded the pick was the local fallback's, and so is its undoing. A failed unpick leaves the key paced as
    /// if it had served (never faster than its rate).
    public func unpick(key: Int64, pool: Int64) async {
        guard !isDegraded else { return fallback.unpickNow(key: key, pool: pool) }
        _ = try? await run(pool: pool, .unpick(key: key))
    }

    /// On the loop's connection, after the acquire it undoes; not waited for.
    public func unpick(key: Int64, pool: Int64, on eventLoop: any EventLoop) {
        guard !isDegraded else { return fallback.unpickNow(key: key, pool: pool) }
        guard let connection = loopConnection(eventLoop) else {
            _ = eventLoop.makeFutureWithTask { await self.unpick(key: key, pool: pool) }
            return
        }
        _ = runOnLoop(connection, pool: pool, .unpick(key: key))
    }

    private func acquireCommand(pool: Int64, excluding excluded: Set<Int64>, model: String?) -> KeyCoordinatorCommand {
        .acquire(version: definition(pool)?.version ?? 0, excluding: excluded, model: model)
    }

    /// The report to send, or nil for a success with nothing to reset (the key had no rejections in a row).
    private func reportCommand(_ outcome: KeyOutcome, key: Int64, pool: Int64) -> KeyCoordinatorCommand? {
        if outcome == .success {
            guard isDegraded || keysWithRejections.withLock({ $0.remove(key) != nil }) else { return nil }
        }
        return .report(version: definition(pool)?.version ?? 0, key: key, outcome: outcome, policy: policy)
    }

    private func send(_ command: KeyCoordinatorCommand, key: Int64, pool: Int64, outcome: KeyOutcome) async -> OutcomeEffect {
        do {
            return try effect(of: try await runReseeding(pool: pool, command), key: key)
        } catch {
            return await degraded(error) { await self.fallback.report(outcome, key: key, pool: pool) }
        }
    }

    private func acquisition(from reply: KeyCoordinatorReply) throws -> KeyAcquisition {
        switch reply {
        case .key(let id, let rejections):
            keysWithRejections.withLock { keys in
                if rejections > 0 { keys.insert(id) } else if !keys.isEmpty { keys.remove(id) }
            }
            return .key(id)
        case .wait(let seconds): return .unavailable(retryAfter: seconds)
        case .empty: return .empty
        default: throw RedisError.protocolError("acquire reply")
        }
    }

    private func effect(of reply: KeyCoordinatorReply, key: Int64) throws -> OutcomeEffect {
        switch reply {
        case .cooled(let until): return .cooledDown(until: until)
        case .quarantined(let until):
            keysWithRejections.withLock { _ = $0.insert(key) }
            return .quarantined(until: until)
        case .invalidated: return .invalidated
        case .none: return .none
        default: throw RedisError.protocolError("report reply")
        }
    }

    /// One command on the loop's own connection, decided there. Before that connection is up, and for a re-seed,
    /// `overTask` answers; when Redis fails or answers what the command cannot have, `local` does, degraded (never a
    /// second send of the same report).
    private func onLoop<T: Sendable>(
        _ eventLoop: any EventLoop, pool: Int64, _ command: KeyCoordinatorCommand,
        decide: @escaping @Sendable (KeyCoordinatorReply) throws -> T,
        overTask: @escaping @Sendable () async -> T, local: @escaping @Sendable () async -> T
    ) -> EventLoopFuture<T> {
        guard let connection = loopConnection(eventLoop) else { return eventLoop.makeFutureWithTask(overTask) }
        return runOnLoop(connection, pool: pool, command).flatMap { reply in
            guard reply != .reseed else { return eventLoop.makeFutureWithTask(overTask) }
            return eventLoop.makeCompletedFuture { try decide(reply) }
        }.flatMapError { error in
            eventLoop.makeFutureWithTask { await self.degraded(error, local) }
        }
    }

    private func loopConnection(_ eventLoop: any EventLoop) -> RedisConnection? {
        connection(on: eventLoop)
    }

    /// The loop's own ready connection (nil before it connected, while Redis is away, or for a loop that is not the
    /// proxy's): other scripts of the request (the client quota's) go out on it, so a command issued in the same loop
    /// tick as the acquire leaves in the same write.
    public func connection(on eventLoop: any EventLoop) -> RedisConnection? {
        guard let connection = loopClients[ObjectIdentifier(eventLoop)]?.readyConnection, connection.eventLoop === eventLoop else { return nil }
        return connection
    }

    /// Connects the per-loop clients (each keeps reconnecting by itself afterwards).
    public func connectLoopClients() async {
        for client in loopClients.values { try? await client.connect() }
    }

    public func shutdownLoopClients() async {
        for client in loopClients.values { await client.shutdown() }
    }

    public func runtimeStates(pool: Int64) async -> [Int64: KeyRuntimeState] {
        guard case .states(let states)? = try? await run(pool: pool, .states) else { return await fallback.runtimeStates(pool: pool) }
        return states
    }

    @discardableResult
    public func coolPool(pool: Int64, seconds: Double, reason: String) async -> PoolCooling? {
        let command = KeyCoordinatorCommand.coolPool(version: definition(pool)?.version ?? 0, seconds: seconds, reason: reason, policy: policy)
        do {
            let reply = try await runReseeding(pool: pool, command)
            // The local fallback rests the pool too, so a Redis outage right after does not end the cooling early.
            _ = await fallback.coolPool(pool: pool, seconds: seconds, reason: reason)
            guard case .cooling(let cooling) = reply else { return nil }
            return cooling
        } catch {
            return await degraded(error) { await self.fallback.coolPool(pool: pool, seconds: seconds, reason: reason) }
        }
    }

    public func poolCooling(pool: Int64) async -> PoolCooling? {
        do {
            guard case .cooling(let cooling) = try await run(pool: pool, .poolCooling) else { return nil }
            return cooling
        } catch {
            return await fallback.poolCooling(pool: pool)
        }
    }

    public func drainUsage() async -> [KeyUsageDelta] {
        var merged: [Int64: KeyUsageDelta] = [:]
        for delta in await fallback.drainUsage() { merged[delta.keyID, default: KeyUsageDelta(keyID: delta.keyID)].merge(delta) }
        for pool in pools.withLock({ Array($0.keys) }) {
            guard case .usage(let usage)? = try? await run(pool: pool, .drain) else { continue }
            for delta in usage.values { merged[delta.keyID, default: KeyUsageDelta(keyID: delta.keyID)].merge(delta) }
        }
        return Array(merged.values)
    }

    /// Counted on this node, beside its local fallback's usage, and added to the store by this node's drain.
    public func recordTokens(key: Int64, input: Int64, output: Int64) {
        fallback.recordTokens(key: key, input: input, output: output)
    }

    // MARK: Script plumbing

    static let script = RedisScript(KeyCoordinatorScript.source)

    /// The five keys of a pool, sharing one hash tag (one Redis Cluster slot); `rk1` is the data layout version.
    static func keys(pool: Int64) -> [String] {
        let tag = "rk1:{pool:\(pool)}"
        return [tag + ":schedule", tag + ":meta", tag + ":keys", tag + ":usage", tag + ":mrest"]
    }

    /// The command's `ARGV`, with the test clock when there is one (empty: Redis `TIME`).
    private func scriptArguments(_ command: KeyCoordinatorCommand) -> [RedisArgument] {
        let clock = clockOverride.map { String(format: "%.6f", $0()) } ?? ""
        return command.arguments(clock: clock).map { RedisArgument($0) }
    }

    private func runOnLoop(_ connection: RedisConnection, pool: Int64, _ command: KeyCoordinatorCommand) -> EventLoopFuture<KeyCoordinatorReply> {
        let started = NIODeadline.now()
        return connection.evalScriptFuture(Self.script, keys: Self.keys(pool: pool).map { RedisArgument($0) }, args: scriptArguments(command))
            .flatMapThrowing { reply in
                self.roundTrips.recordNanoseconds(Int64((NIODeadline.now() - started).nanoseconds))
                self.recovered()
                return try KeyCoordinatorReply(reply, answering: command)
            }.flatMapErrorThrowing { error in
                self.errors.increment()
                throw error
            }
    }

    private func run(pool: Int64, _ command: KeyCoordinatorCommand) async throws -> KeyCoordinatorReply {
        let started = ContinuousClock.now
        let client = self.client
        let keys = Self.keys(pool: pool).map { RedisArgument($0) }
        let args = scriptArguments(command)
        do {
            let reply = try await Self.withDeadline(client.configuration.commandTimeout * 2, logger: logger) {
                try await client.evalScript(Self.script, keys: keys, args: args)
            }
            let elapsed = ContinuousClock.now - started
            roundTrips.recordNanoseconds(elapsed.nanoseconds)
            recovered()
            return try KeyCoordinatorReply(reply, answering: command)
        } catch {
            errors.increment()
            throw error
        }
    }

    /// Runs a command; when the script says the pool is missing or stale, seeds it and runs it once more.
    private func runReseeding(pool: Int64, _ command: KeyCoordinatorCommand) async throws -> KeyCoordinatorReply {
        let reply = try await run(pool: pool, command)
        guard reply == .reseed, let definition = definition(pool) else { return reply }
        try await seed(definition)
        return try await run(pool: pool, command)
    }

    private func seed(_ definition: PoolDefinition) async throws {
        _ = try await run(pool: definition.id, .sync(definition))
    }

    private func definition(_ pool: Int64) -> PoolDefinition? {
        pools.withLock { $0[pool] }
    }

    /// The pool as the local fallback must pace it: alone, this node may use a key only its share of the time.
    private func localDefinition(_ definition: PoolDefinition) -> PoolDefinition {
        var local = definition
        local.pacingInterval *= Double(liveNodes.load(ordering: .relaxed))
        return local
    }

    private func degraded<T>(_ error: any Error, _ local: () async -> T) async -> T {
        let isFirst = degradedSince.withLock { since -> Bool in
            guard since == nil else { return false }
            since = Date()
            return true
        }
        if isFirst {
            degradedEvents.increment()
            degradedGauge.record(1)
            logger.warning("redis unreachable: selecting keys locally until it returns", metadata: ["error": "\(error)"])
            // Pace locally at the fleet's share of each key's rate.
            for definition in pools.withLock({ Array($0.values) }) { await fallback.syncPool(localDefinition(definition)) }
        }
        return await local()
    }

    private func recovered() {
        let wasDegraded = degradedSince.withLock { since -> Bool in
            defer { since = nil }
            return since != nil
        }
        if wasDegraded {
            degradedGauge.record(0)
            logger.notice("redis reachable again: shared key selection resumed")
        }
    }

    /// A bound on every script call, whatever the client does: a request must never wait on Redis for longer.
    static func withDeadline<T: Sendable>(
        _ limit: Duration, logger: Logger, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                logger.warning("redis call did not complete in time; selecting locally")
                throw RedisError.timeout
            }
            return value
        }
    }
}
