import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The master as Redis Sentinel names it, shared by every connection of a node (the per-loop clients, the
/// subscriber): one question to the Sentinels however many connections need the answer, and one subscription
/// to `+switch-master` that moves every connection to the new master when a failover ends.
///
/// The decisions are `SentinelMasterDiscovery`'s; this holds the sockets.
public final class RedisMasterLocator: Sendable {
    public let configuration: RedisSentinelConfiguration
    private let connectTimeout: Duration
    private let commandTimeout: Duration
    private let backoff: ReconnectBackoff
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var discovery: SentinelMasterDiscovery
        /// The question to the Sentinels under way; every caller that needs the master meanwhile waits for it.
        var lookup: Task<RedisEndpoint, any Error>?
        /// Connections waiting to hear that the master moved away from their endpoint.
        var movedWaiters: [Int: (endpoint: RedisEndpoint, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextWaiterID = 0
        var watcher: Task<Void, Never>?
        var switchConnection: RedisConnection?
        /// The last master announced, kept when the discovery forgets it (for logs only).
        var lastNamed: RedisEndpoint?
        var isShutdown = false
    }

    public init(
        configuration: RedisSentinelConfiguration,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(1),
        backoff: ReconnectBackoff = ReconnectBackoff(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis.sentinel")
    ) {
        self.configuration = configuration
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.backoff = backoff
        self.eventLoopGroup = eventLoopGroup
        var logger = logger
        logger[metadataKey: "redis.sentinelMaster"] = "\(configuration.masterName)"
        self.logger = logger
        self.state = Mutex(State(discovery: SentinelMasterDiscovery(configuration: configuration)))
    }

    /// The master last named by a Sentinel or a `+switch-master`, if known.
    public var knownMaster: RedisEndpoint? { state.withLock { $0.discovery.master } }

    /// The master's address: the known one, or one round of questions to the Sentinels (throws when none names
    /// it; callers back off and ask again). Starts following `+switch-master` on first use.
    public func master() async throws -> RedisEndpoint {
        enum Next { case known(RedisEndpoint), wait(Task<RedisEndpoint, any Error>) }
        let next = try state.withLock { state throws(RedisError) -> Next in
            guard !state.isShutdown else { throw RedisError.unavailable("sentinel locator shut down") }
            if state.watcher == nil { state.watcher = Task { await self.followSwitches() } }
            if let master = state.discovery.master { return .known(master) }
            if let lookup = state.lookup { return .wait(lookup) }
            let lookup = Task { try await self.askSentinels() }
            state.lookup = lookup
            return .wait(lookup)
        }
        switch next {
        case .known(let master): return master
        case .wait(let lookup): return try await lookup.value
        }
    }

    /// Connects to the master and checks its `ROLE`; a connection that cannot be made, or that reaches a replica,
    /// makes the next call ask the Sentinels again.
    public func openMaster(
        _ base: RedisConfiguration, eventLoopGroup: any EventLoopGroup,
        pushHandler: (@Sendable (RESPValue) -> Void)? = nil, logger: Logger
    ) async throws -> (RedisConnection, RedisEndpoint) {
        let endpoint = try await master()
        var configuration = base
        configuration.host = endpoint.host
        configuration.port = endpoint.port
        do {
            let connection = try await RedisConnection.open(
                configuration, eventLoopGroup: eventLoopGroup, pushHandler: pushHandler, requireMaster: true, logger: logger
            )
            return (connection, endpoint)
        } catch {
            forget(endpoint)
            throw error
        }
    }

    /// The master at `endpoint` failed (lost connection, `READONLY`, not master by `ROLE`).
    public func forget(_ endpoint: RedisEndpoint) {
        state.withLock { $0.discovery.forget(endpoint) }
    }

    /// Returns once the known master is another server than `endpoint` (a `+switch-master`), or on cancellation or
    /// shutdown. A connection's owner closes it then, and reconnects to the new master.
    public func waitUntilMoved(from endpoint: RedisEndpoint) async {
        let id = state.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.isShutdown || Task.isCancelled { return true }
                    if let master = state.discovery.master, master != endpoint { return true }
                    state.movedWaiters[id] = (endpoint, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.movedWaiters.removeValue(forKey: id) }
            waiter?.continuation.resume()
        }
    }

    /// A reconnect loop's wait: `delay`, or less when the Sentinels name another master than the one last named
    /// (which just failed) meanwhile, so that a failover is followed at once rather than after the backoff.
    public func backOff(_ delay: Duration) async throws {
        guard let failed = state.withLock({ $0.lastNamed }) else { return try await Task.sleep(for: delay) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await Task.sleep(for: delay) }
            group.addTask { await self.waitUntilMoved(from: failed) }
            defer { group.cancelAll() }
            try await group.next()
        }
        try Task.checkCancellation()
    }

    /// Serves `connection` until it closes; closes it as soon as the master moves away from `endpoint`.
    func closeWhenMoved(_ connection: RedisConnection, endpoint: RedisEndpoint) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await connection.waitUntilClosed() }
            group.addTask { await self.waitUntilMoved(from: endpoint) }
            await group.next()
            group.cancelAll()
        }
        if connection.isOpen {
            logger.notice("redis master moved; reconnecting", metadata: ["redis.oldMaster": "\(endpoint)"])
            await connection.close()
        } else {
            forget(endpoint)
        }
    }

    public func shutdown() async {
        let (watcher, lookup, connection, waiters) = state.withLock { state in
            state.isShutdown = true
            let waiters = state.movedWaiters.values.map(\.continuation)
            state.movedWaiters.removeAll()
            defer { state.watcher = nil; state.lookup = nil }
            return (state.watcher, state.lookup, state.switchConnection, waiters)
        }
        for waiter in waiters { waiter.resume() }
        watcher?.cancel()
        lookup?.cancel()
        await connection?.close()
        await watcher?.value
        _ = try? await lookup?.value
    }

    // MARK: - Asking the Sentinels

    private func askSentinels() async throws -> RedisEndpoint {
        defer { state.withLock { $0.lookup = nil } }
        var step = state.withLock { $0.discovery.start() }
        while true {
            switch step {
            case .connect(let master):
                // While a dead master is still named (before the Sentinels fail over), every reconnect asks again: log changes only.
                if announce(master) {
                    logger.info("redis master named by sentinel", metadata: ["redis.master": "\(master)"])
                } else {
                    logger.debug("redis master named by sentinel", metadata: ["redis.master": "\(master)"])
                }
                return master
            case .noMaster(let reasons):
                throw RedisError.unavailable("no Sentinel named master '\(configuration.masterName)': \(reasons.joined(separator: "; "))")
            case .ask(let sentinel):
                do {
                    let reply = try await ask(sentinel, ["SENTINEL", "get-master-addr-by-name", RedisArgument(configuration.masterName)])
                    step = state.withLock { $0.discovery.answered(by: sentinel, reply: reply) }
                } catch {
                    step = state.withLock { $0.discovery.failed(sentinel, reason: "\(error)") }
                }
            }
        }
    }

    /// One command on a short-lived Sentinel connection (AUTH first when a Sentinel password is set).
    private func ask(_ sentinel: RedisEndpoint, _ command: [RedisArgument]) async throws -> RESPValue {
        let connection = try await openSentinel(sentinel, pushHandler: nil)
        do {
            let replies = try await connection.pipeline([command], timeout: commandTimeout)
            await connection.close()
            guard let reply = replies.first else { throw RedisError.connectionClosed }
            return reply
        } catch {
            await connection.close()
            throw error
        }
    }

    private func openSentinel(_ sentinel: RedisEndpoint, pushHandler: (@Sendable (RESPValue) -> Void)?) async throws -> RedisConnection {
        var settings = RedisConfiguration(
            host: sentinel.host, port: sentinel.port, connectTimeout: connectTimeout, commandTimeout: commandTimeout
        )
        settings.password = configuration.password
        settings.username = configuration.username
        return try await RedisConnection.open(settings, eventLoopGroup: eventLoopGroup, pushHandler: pushHandler, logger: logger)
    }

    /// Makes `master` the known master and wakes every connection still on another server. True when it differs
    /// from the master last named.
    @discardableResult
    private func announce(_ master: RedisEndpoint) -> Bool {
        let (waiters, changed) = state.withLock { state -> ([CheckedContinuation<Void, Never>], Bool) in
            let changed = state.lastNamed != master
            state.lastNamed = master
            state.discovery.learned(master)
            let moved = state.movedWaiters.filter { $0.value.endpoint != master }
            for id in moved.keys { state.movedWaiters[id] = nil }
            return (moved.values.map(\.continuation), changed)
        }
        for waiter in waiters { waiter.resume() }
        return changed
    }

    // MARK: - Following +switch-master

    /// Subscribes to `+switch-master` on one Sentinel at a time (the next one when it fails). After each
    /// (re)subscription it asks again, since a switch may have happened while nobody listened.
    private func followSwitches() async {
        var attempt = 0
        while !Task.isCancelled {
            let sentinels = state.withLock { $0.discovery.sentinels }
            let sentinel = sentinels[attempt % sentinels.count]
            do {
                let connection = try await openSentinel(sentinel, pushHandler: { [weak self] push in self?.handleSwitch(push) })
                let keep = state.withLock { state -> Bool in
                    guard !state.isShutdown else { return false }
                    state.switchConnection = connection
                    return true
                }
                guard keep else {
                    await connection.close()
                    return
                }
                connection.sendExpectingPush(["SUBSCRIBE", "+switch-master"])
                logger.debug("following +switch-master", metadata: ["redis.sentinel": "\(sentinel)"])
                if let reply = try? await ask(sentinel, ["SENTINEL", "get-master-addr-by-name", RedisArgument(configuration.masterName)]),
                   let named = SentinelMasterDiscovery.endpoint(fromAddressReply: reply), named != knownMaster {
                    logger.notice("sentinel names another master", metadata: ["redis.master": "\(named)"])
                    announce(named)
                }
                attempt = 0
                await connection.waitUntilClosed()
                state.withLock { $0.switchConnection = nil }
            } catch {
                logger.debug("cannot follow +switch-master on sentinel", metadata: ["redis.sentinel": "\(sentinel)", "error": "\(error)"])
            }
            attempt += 1
            do {
                try await Task.sleep(for: backoff.delay(attempt: attempt - 1))
            } catch {
                return
            }
        }
    }

    private func handleSwitch(_ push: RESPValue) {
        guard let elements = push.array, elements.count >= 3, elements[0].string == "message",
              elements[1].string == "+switch-master", let payload = elements[2].bytes else { return }
        guard let master = state.withLock({ $0.discovery.switchMessage(payload) }) else { return }
        logger.notice("sentinel switched master", metadata: ["redis.master": "\(master)"])
        announce(master)
    }
}
