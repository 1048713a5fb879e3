import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The application's Redis client: one pipelined connection, AUTH + SELECT on every (re)connect, and a
/// background reconnect loop with backoff.
///
/// The first command (or `connect()`) opens the connection and waits for that first attempt. Afterwards,
/// while the connection is down, commands fail at once with `RedisError.unavailable` instead of queueing:
/// callers fall back to local operation and the reconnect loop brings Redis back on its own.
public final class RedisClient: Sendable {
    public var configuration: RedisConfiguration { target.configuration }
    /// With Sentinel: where the master is; `configuration`'s host and port are then unused.
    public var masterLocator: RedisMasterLocator? { target.masterLocator }
    private var eventLoopGroup: any EventLoopGroup { target.eventLoopGroup }
    private let target: RedisTarget
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var phase: Phase = .idle
        var loop: Task<Void, Never>?
    }

    private enum Phase {
        /// Nothing tried yet.
        case idle
        /// The first attempt is running; these callers wait for it.
        case firstAttempt([CheckedContinuation<RedisConnection, any Error>])
        case connected(RedisConnection)
        /// Reconnecting in the background; the reason the last attempt or connection failed.
        case disconnected(String)
        case shutdown
    }

    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        masterLocator: RedisMasterLocator? = nil,
        logger: Logger = Logger(label: "redis")
    ) {
        self.target = RedisTarget(configuration: configuration, masterLocator: masterLocator, eventLoopGroup: eventLoopGroup)
        var logger = logger
        logger[metadataKey: "redis.endpoint"] = "\(target.label)"
        self.logger = logger
    }

    /// The loop this client's connections run on, when it was made with a single loop (one client per proxy loop).
    public var boundEventLoop: any EventLoop { eventLoopGroup.next() }

    /// True while a ready (authenticated, database selected) connection is open.
    public var isConnected: Bool {
        state.withLock { state in
            if case .connected(let connection) = state.phase { return connection.isOpen }
            return false
        }
    }

    /// Starts connecting if nothing has yet, and waits for the first attempt. Throws if that attempt failed
    /// (the background loop keeps trying). Optional: the first command does the same.
    public func connect() async throws {
        _ = try await connection()
    }

    /// Sends one command on the shared connection. An error reply throws `RedisError.server`.
    public func send(_ arguments: [RedisArgument]) async throws -> RESPValue {
        try await connection().send(arguments)
    }

    public func send(_ arguments: [String]) async throws -> RESPValue {
        try await send(arguments.map { RedisArgument($0) })
    }

    /// Several commands in one write, replies in order; error replies are `.error` values, not thrown.
    public func pipeline(_ commands: [[RedisArgument]]) async throws -> [RESPValue] {
        try await connection().pipeline(commands)
    }

    /// The open connection, if there is one right now; never waits (callers on an event loop fall back instead).
    public var readyConnection: RedisConnection? {
        state.withLock { state in
            if case .connected(let connection) = state.phase, connection.isOpen { return connection }
            return nil
        }
    }

    /// Stops reconnecting and closes the connection; later commands fail with `RedisError.unavailable`.
    public func shutdown() async {
        let (loop, connection, waiters) = state.withLock { state -> (Task<Void, Never>?, RedisConnection?, [CheckedContinuation<RedisConnection, any Error>]) in
            var connection: RedisConnection?
            var waiters: [CheckedContinuation<RedisConnection, any Error>] = []
            switch state.phase {
            case .connected(let open): connection = open
            case .firstAttempt(let pending): waiters = pending
            case .idle, .disconnected, .shutdown: break
            }
            state.phase = .shutdown
            let loop = state.loop
            state.loop = nil
            return (loop, connection, waiters)
        }
        for waiter in waiters { waiter.resume(throwing: RedisError.unavailable("client shut down")) }
        loop?.cancel()
        await connection?.close()
        await loop?.value
    }

    // MARK: - Connection management

    private enum Lookup {
        case ready(RedisConnection)
        case wait
        case fail(RedisError)
    }

    private func connection() async throws -> RedisConnection {
        let lookup = state.withLock { state -> Lookup in
            switch state.phase {
            case .connected(let connection): return .ready(connection)
            case .disconnected(let reason): return .fail(.unavailable(reason))
            case .shutdown: return .fail(.unavailable("client shut down"))
            case .idle, .firstAttempt: return .wait
            }
        }
        switch lookup {
        case .ready(let connection): return connection
        case .fail(let error): throw error
        case .wait: break
        }
        return try await withCheckedThrowingContinuation { continuation in
            let startLoop = state.withLock { state -> Bool in
                switch state.phase {
                case .idle:
                    state.phase = .firstAttempt([continuation])
                    return true
                case .firstAttempt(var waiters):
                    waiters.append(continuation)
                    state.phase = .firstAttempt(waiters)
                case .connected(let connection):
                    continuation.resume(returning: connection)
                case .disconnected(let reason):
                    continuation.resume(throwing: RedisError.unavailable(reason))
                case .shutdown:
                    continuation.resume(throwing: RedisError.unavailable("client shut down"))
                }
                return false
            }
            if startLoop {
                let loop = Task { await self.runConnectionLoop() }
                state.withLock { state in
                    if case .shutdown = state.phase { loop.cancel() } else { state.loop = loop }
                }
            }
        }
    }

    /// Connect, serve until the connection closes, wait, repeat — until shut down.
    private func runConnectionLoop() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let (connection, master) = try await target.open(logger: logger)
                guard install(connection) else {
                    await connection.close()
                    return
                }
                logger.info("redis connected", metadata: failures > 0 ? ["redis.failedAttempts": "\(failures)"] : [:])
                failures = 0
                await target.waitUntilLost(connection, master: master)
                guard markDisconnected("connection lost") else { return }
                logger.warning("redis connection lost; reconnecting")
            } catch {
                guard markDisconnected("\(error)") else { return }
                // One warning per outage, not one per attempt.
                if failures == 0 {
                    logger.warning("redis unavailable; retrying with backoff", metadata: ["error": "\(error)"])
                } else {
                    logger.debug("redis reconnect attempt failed", metadata: ["error": "\(error)", "redis.attempt": "\(failures)"])
                }
                failures += 1
            }
            do {
                try await target.pause(afterFailures: failures)
            } catch {
                return
            }
        }
    }

    /// Publishes a fresh connection and wakes the callers of the first attempt; false after shutdown.
    private func install(_ connection: RedisConnection) -> Bool {
        guard let waiters = enter(.connected(connection)) else { return false }
        for waiter in waiters { waiter.resume(returning: connection) }
        return true
    }

    /// Commands fail fast from now on; false after shutdown.
    private func markDisconnected(_ reason: String) -> Bool {
        guard let waiters = enter(.disconnected(reason)) else { return false }
        for waiter in waiters { waiter.resume(throwing: RedisError.unavailable(reason)) }
        return true
    }

    /// Moves to `phase` and hands back the callers waiting for the first attempt; nil after shutdown.
    private func enter(_ phase: Phase) -> [CheckedContinuation<RedisConnection, any Error>]? {
        state.withLock { state in
            switch state.phase {
            case .shutdown:
                return nil
            case .firstAttempt(let waiters):
                state.phase = phase
                return waiters
            case .idle, .connected, .disconnected:
                state.phase = phase
                return []
            }
        }
    }
}
