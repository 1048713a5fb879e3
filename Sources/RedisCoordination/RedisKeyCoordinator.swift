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
        _ = try? await run(pool: id, ["remove"])
    }

    public func acquireKey(pool: Int64, excluding excluded: Set<Int64>, model: String?) async -> KeyAcquisition {
        do {
            let reply = try await runReseeding(pool: pool) {
                try await self.run(pool: pool, self.acquireArguments(pool: pool, excluding: excluded, model: model))
            }
            return try acquisition(from: reply)
        } catch {
            return await degraded(error) { await self.fallback.acquireKey(pool: pool, excluding: excluded, model: model) }
        }
    }

    /// On the proxy's loop: one `EVALSHA` on that loop's connection. Before it has connected, and for the rare re-seed,
    /// the task-based path answers instead.
    public func acquireKey(
        pool: Int64, excluding excluded: Set<Int64>, model: String?, on eventLoop: any EventLoop
    ) -> EventLoopFuture<KeyAcquisition> {
        let overTask = { eventLoop.makeFutureWithTask { await self.acquireKey(pool: pool, excluding: excluded, model: model) } }
        guard let connection = loopConnection(eventLoop) else { return overTask() }
        return runOnLoop(connection, pool: pool, acquireArguments(pool: pool, excluding: excluded, model: model)).flatMap { reply in
            if reply.array?.first?.string == "reseed" { return overTask() }
            do {
                return eventLoop.makeSucceededFuture(try self.acquisition(from: reply))
            } catch {
                return overTask()
            }
        }.flatMapError { error in
            eventLoop.makeFutureWithTask {
                await self.degraded(error) { await self.fallback.acquireKey(pool: pool, excluding: excluded, model: model) }
            }
        }
    }

    public func report(_ outcome: KeyOutcome, key: Int64, pool: Int64, on eventLoop: any EventLoop) -> EventLoopFuture<OutcomeEffect> {
        if outcome == .success, !isDegraded, keysWithRejections.withLock({ !$0.contains(key) }) {
            // The happy path stays one Redis round trip per request: a success needs none.
            return eventLoop.makeSucceededFuture(.none)
        }
        return eventLoop.makeFutureWithTask { await self.report(outcome, key: key, pool: pool) }
    }

    private func acquireArguments(pool: Int64, excluding excluded: Set<Int64>, model: String?) -> [String] {
        let version = definition(pool)?.version ?? 0
        let excludedList = excluded.isEmpty ? "" : excluded.sorted().map(String.init).joined(separator: ",")
        return ["acquire", String(version), excludedList, model ?? ""]
    }

    private func acquisition(from reply: RESPValue) throws -> KeyAcquisition {
        guard let parts = reply.array, let kind = parts.first?.string else { throw RedisError.protocolError("acquire reply") }
        switch kind {
        case "key":
            guard let id = parts.dropFirst().first?.string.flatMap(Int64.init) else { throw RedisError.protocolError("acquire id") }
            let rejections = parts.dropFirst(2).first?.int ?? 0
            keysWithRejections.withLock { keys in
                if rejections > 0 { keys.insert(id) } else if !keys.isEmpty { keys.remove(id) }
            }
            return .key(id)
        case "wait":
            return .unavailable(retryAfter: parts.dropFirst().first?.string.flatMap(Double.init) ?? 1)
        default:
            return .empty
        }
    }

    private func loopConnection(_ eventLoop: any EventLoop) -> RedisConnection? {
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

    @discardableResult
    public func report(_ outcome: KeyOutcome, key: Int64, pool: Int64) async -> OutcomeEffect {
        if outcome == .success {
            // Nothing to reset unless the key had rejections: the happy path stays one Redis round trip.
            guard isDegraded || keysWithRejections.withLock({ $0.remove(key) != nil }) else { return .none }
        }
        let version = definition(pool)?.version ?? 0
        let arguments: [String]
        let model: String?
        switch outcome {
        case .success: (arguments, model) = (["ok", "0", ""], nil)
        case .rateLimited(let cooldown, let scope): (arguments, model) = (["429", String(cooldown), ""], scope)
        case .rejected(let reason): (arguments, model) = (["rej", "0", reason], nil)
        case .quotaExhausted(let cooldown, let reason, let scope): (arguments, model) = (["quota", String(cooldown), reason], scope)
        case .upstreamFailure(let reason): (arguments, model) = (["fail", "0", reason], nil)
        }
        let quarantine = policy.quarantineSeconds.map { String($0) }.joined(separator: ",")
        do {
            let reply = try await runReseeding(pool: pool) {
                try await self.run(pool: pool, ["report", String(version), String(key)] + arguments + [
                    String(self.policy.rejectionsBeforeInvalid), quarantine, String(self.policy.minimumCooldown), String(self.policy.maximumCooldown),
                    model ?? "",
                ])
            }
            guard let parts = reply.array, let kind = parts.first?.string else { throw RedisError.protocolError("report reply") }
            let until = parts.dropFirst().first?.string.flatMap(Double.init) ?? 0
            switch kind {
            case "cooled": return .cooledDown(until: until)
            case "quarantined":
                keysWithRejections.withLock { _ = $0.insert(key) }
                return .quarantined(until: until)
            case "invalidated": return .invalidated
            default: return .none
            }
        } catch {
            return await degraded(error) { await self.fallback.report(outcome, key: key, pool: pool) }
        }
    }

    public func runtimeStates(pool: Int64) async -> [Int64: KeyRuntimeState] {
        do {
            let reply = try await run(pool: pool, ["states"])
            let values = reply.array ?? []
            var states: [Int64: KeyRuntimeState] = [:]
            var index = 0
            while index + 4 < values.count {
                if let id = values[index].string.flatMap(Int64.init) {
                    let cooling = values[index + 1].string.flatMap(Double.init)
                    let rejections = values[index + 2].string.flatMap(Int.init) ?? 0
                    let exhausted = values[index + 3].string.flatMap(Double.init)
                    let rests = values[index + 4].string.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Double] }
                    states[id] = KeyRuntimeState(coolingUntil: cooling, consecutiveRejections: rejections, quotaExhaustedUntil: exhausted,
                                                 modelCoolingUntil: rests ?? [:])
                }
                index += 5
            }
            return states
        } catch {
            return await fallback.runtimeStates(pool: pool)
        }
    }

    @discardableResult
    public func coolPool(pool: Int64, seconds: Double, reason: String) async -> PoolCooling? {
        let version = definition(pool)?.version ?? 0
        do {
            let reply = try await runReseeding(pool: pool) {
                try await self.run(pool: pool, [
                    "coolpool", String(version), String(seconds), reason, String(self.policy.minimumCooldown),
                    String(self.policy.maximumCooldown),
                ])
            }
            // The local fallback rests the pool too, so a Redis outage right after does not end the cooling early.
            _ = await fallback.coolPool(pool: pool, seconds: seconds, reason: reason)
            return Self.poolCooling(from: reply)
        } catch {
            return await degraded(error) { await self.fallback.coolPool(pool: pool, seconds: seconds, reason: reason) }
        }
    }

    public func poolCooling(pool: Int64) async -> PoolCooling? {
        do {
            return Self.poolCooling(from: try await run(pool: pool, ["poolcool"]))
        } catch {
            return await fallback.poolCooling(pool: pool)
        }
    }

    /// `{'cooling', until, reason}` or `{'none'}`.
    private static func poolCooling(from reply: RESPValue) -> PoolCooling? {
        guard let parts = reply.array, parts.first?.string == "cooling", parts.count >= 3,
            let until = parts[1].string.flatMap(Double.init)
        else { return nil }
        return PoolCooling(until: until, reason: parts[2].string ?? "")
    }

    public func drainUsage() async -> [KeyUsageDelta] {
        var merged: [Int64: KeyUsageDelta] = [:]
        for delta in await fallback.drainUsage() { merged[delta.keyID, default: KeyUsageDelta(keyID: delta.keyID)].merge(delta) }
        for pool in pools.withLock({ Array($0.keys) }) {
            guard let reply = try? await run(pool: pool, ["drain"]), let values = reply.array else { continue }
            var index = 0
            while index + 1 < values.count {
                if let field = values[index].string, let value = values[index + 1].string {
                    Self.apply(field: field, value: value, to: &merged)
                }
                index += 2
            }
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

    /// The script's arguments: the operation, the test clock (empty: Redis `TIME`), then the operation's own.
    private func scriptArguments(_ arguments: [String]) -> [RedisArgument] {
        let clock = clockOverride.map { String(format: "%.6f", $0()) } ?? ""
        return ([arguments[0], clock] + arguments.dropFirst()).map { RedisArgument($0) }
    }

    private func runOnLoop(_ connection: RedisConnection, pool: Int64, _ arguments: [String]) -> EventLoopFuture<RESPValue> {
        let started = NIODeadline.now()
        return connection.evalScriptFuture(Self.script, keys: Self.keys(pool: pool).map { RedisArgument($0) }, args: scriptArguments(arguments))
            .map { reply in
                self.roundTrips.recordNanoseconds(Int64((NIODeadline.now() - started).nanoseconds))
                self.recovered()
                return reply
            }.flatMapErrorThrowing { error in
                self.errors.increment()
                throw error
            }
    }

    private func run(pool: Int64, _ arguments: [String]) async throws -> RESPValue {
        let argv = scriptArguments(arguments)
        let started = ContinuousClock.now
        let client = self.client
        let keys = Self.keys(pool: pool).map { RedisArgument($0) }
        let args = argv
        do {
            let reply = try await Self.withDeadline(client.configuration.commandTimeout * 2, logger: logger) {
                try await client.evalScript(Self.script, keys: keys, args: args)
            }
            let elapsed = ContinuousClock.now - started
            roundTrips.recordNanoseconds(elapsed.nanoseconds)
            recovered()
            return reply
        } catch {
            errors.increment()
            throw error
        }
    }

    /// Runs an operation; when the script says the pool is missing or stale, seeds it and runs it once more.
    private func runReseeding(pool: Int64, _ operation: @Sendable () async throws -> RESPValue) async throws -> RESPValue {
        let reply = try await operation()
        guard reply.array?.first?.string == "reseed", let definition = definition(pool) else { return reply }
        try await seed(definition)
        return try await operation()
    }

    private func seed(_ definition: PoolDefinition) async throws {
        let ids = definition.keyIDs.map(String.init).joined(separator: ",")
        _ = try await run(pool: definition.id, ["sync", String(definition.version), String(definition.pacingInterval), ids])
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

    private static func apply(field: String, value: String, to merged: inout [Int64: KeyUsageDelta]) {
        let parts = field.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let id = Int64(parts[1]) else { return }
        var delta = KeyUsageDelta(keyID: id)
        switch parts[0] {
        case "req": delta.requests = Int64(value) ?? 0
        case "err": delta.errors = Int64(value) ?? 0
        case "last": delta.lastUsedAt = Double(value).map { Date(timeIntervalSince1970: $0) }
        case "lerr": delta.lastError = value
        default: return
        }
        merged[id, default: KeyUsageDelta(keyID: id)].merge(delta)
    }
}
