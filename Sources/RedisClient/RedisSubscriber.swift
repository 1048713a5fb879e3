import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A dedicated pub/sub connection (a subscribed RESP2 connection cannot run other commands).
///
/// `messages(channel:)` returns a stream per caller. The connection opens with the first subscription,
/// reconnects with backoff when lost, re-subscribes every channel and then emits `.resubscribed`. A PING every
/// `healthCheckInterval` notices a server that stopped answering without closing the socket.
public final class RedisSubscriber: Sendable {
    public var configuration: RedisConfiguration { target.configuration }
    public let healthCheckInterval: Duration
    /// With Sentinel: where the master is; `configuration`'s host and port are then unused.
    public var masterLocator: RedisMasterLocator? { target.masterLocator }
    private let target: RedisTarget
    private let logger: Logger
    private let state = Mutex(State())

    private struct Subscription {
        let channel: String
        let continuation: AsyncStream<RedisPubSubEvent>.Continuation
        /// The connection generation on which Redis last confirmed this subscription.
        var confirmedGeneration: Int?
    }

    private struct State {
        var subscriptions: [Int: Subscription] = [:]
        var nextID = 0
        var connection: RedisConnection?
        /// Counts connections, so that confirmations from an old one are told apart.
        var generation = 0
        var loop: Task<Void, Never>?
        var isShutdown = false
    }

    public init(
        configuration: RedisConfiguration,
        healthCheckInterval: Duration = .seconds(2),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        masterLocator: RedisMasterLocator? = nil,
        logger: Logger = Logger(label: "redis.subscriber")
    ) {
        self.target = RedisTarget(configuration: configuration, masterLocator: masterLocator, eventLoopGroup: eventLoopGroup)
        self.healthCheckInterval = healthCheckInterval
        var logger = logger
        logger[metadataKey: "redis.endpoint"] = "\(target.label)"
        self.logger = logger
    }

    /// True while the subscription connection is open.
    public var isConnected: Bool {
        state.withLock { $0.connection?.isOpen ?? false }
    }

    /// Subscribes to `channel`. The stream ends when the caller stops iterating or on `shutdown()`.
    public func messages(channel: String) -> AsyncStream<RedisPubSubEvent> {
        let (stream, continuation) = AsyncStream<RedisPubSubEvent>.makeStream()
        let (id, connection, startLoop) = state.withLock { state -> (Int?, RedisConnection?, Bool) in
            guard !state.isShutdown else { return (nil, nil, false) }
            let id = state.nextID
            state.nextID += 1
            state.subscriptions[id] = Subscription(channel: channel, continuation: continuation)
            let startLoop = state.loop == nil
            return (id, state.connection, startLoop)
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id: id) }
        // On a live connection subscribe now; otherwise the connection loop subscribes every channel.
        // Re-subscribing a channel is harmless: Redis confirms again, and confirmations already seen on this
        // connection are ignored.
        connection?.sendExpectingPush(["SUBSCRIBE", RedisArgument(channel)])
        if startLoop {
            let loop = Task { await self.runConnectionLoop() }
            state.withLock { state in
                if state.isShutdown { loop.cancel() } else { state.loop = loop }
            }
        }
        return stream
    }

    /// Closes the connection and finishes every stream.
    public func shutdown() async {
        let (loop, connection, continuations) = state.withLock { state in
            state.isShutdown = true
            let loop = state.loop
            state.loop = nil
            let continuations = state.subscriptions.values.map(\.continuation)
            state.subscriptions.removeAll()
            return (loop, state.connection, continuations)
        }
        loop?.cancel()
        await connection?.close()
        await loop?.value
        for continuation in continuations { continuation.finish() }
    }

    private func unsubscribe(id: Int) {
        let (connection, channel) = state.withLock { state -> (RedisConnection?, String?) in
            guard let removed = state.subscriptions.removeValue(forKey: id) else { return (nil, nil) }
            let stillWanted = state.subscriptions.values.contains { $0.channel == removed.channel }
            return stillWanted ? (nil, nil) : (state.connection, removed.channel)
        }
        if let connection, let channel {
            connection.sendExpectingPush(["UNSUBSCRIBE", RedisArgument(channel)])
        }
    }

    // MARK: - Connection loop

    private func runConnectionLoop() async {
        var failures = 0
        while !Task.isCancelled {
            let generation = state.withLock { state in
                state.generation += 1
                return state.generation
            }
            do {
                let pushHandler: @Sendable (RESPValue) -> Void = { [weak self] push in self?.handlePush(push, generation: generation) }
                let (connection, master) = try await target.open(pushHandler: pushHandler, logger: logger)
                let channels = state.withLock { state -> Set<String>? in
                    guard !state.isShutdown else { return nil }
                    state.connection = connection
                    return Set(state.subscriptions.values.map(\.channel))
                }
                guard let channels else {
                    await connection.close()
                    return
                }
                if !channels.isEmpty {
                    connection.sendExpectingPush(["SUBSCRIBE"] + channels.sorted().map { RedisArgument($0) })
                }
                logger.info("redis subscriber connected", metadata: ["redis.channels": "\(channels.count)"])
                failures = 0
                await serve(connection, master: master)
                let lost = state.withLock { state -> [AsyncStream<RedisPubSubEvent>.Continuation]? in
                    guard !state.isShutdown else { return nil }
                    state.connection = nil
                    return state.subscriptions.values.filter { $0.confirmedGeneration == generation }.map(\.continuation)
                }
                guard let lost else { return }
                for continuation in lost { continuation.yield(.disconnected) }
                logger.warning("redis subscriber connection lost; resubscribing")
            } catch {
                if failures == 0 {
                    logger.warning("redis subscriber cannot connect; retrying with backoff", metadata: ["error": "\(error)"])
                } else {
                    logger.debug("redis subscriber reconnect attempt failed", metadata: ["error": "\(error)"])
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

    /// Returns when the connection has closed: by the server, by a failed health check, or by shutdown.
    /// With Sentinel, also when the master moved away from `master`.
    private func serve(_ connection: RedisConnection, master: RedisEndpoint?) async {
        let interval = healthCheckInterval
        await withTaskGroup(of: Void.self) { group in
            let target = target
            group.addTask { await target.waitUntilLost(connection, master: master) }
            group.addTask {
                while !Task.isCancelled {
                    do {
                        try await Task.sleep(for: interval)
                        _ = try await connection.send(["PING"])
                    } catch {
                        if !Task.isCancelled { await connection.close() }
                        return
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func handlePush(_ push: RESPValue, generation: Int) {
        guard let elements = push.array, elements.count >= 3,
              let kind = elements[0].string, let channel = elements[1].string else { return }
        var deliveries: [(AsyncStream<RedisPubSubEvent>.Continuation, RedisPubSubEvent)] = []
        switch kind {
        case "message":
            let payload = elements[2].bytes ?? []
            state.withLock { state in
                for subscription in state.subscriptions.values where subscription.channel == channel {
                    deliveries.append((subscription.continuation, .message(payload)))
                }
            }
        case "subscribe":
            state.withLock { state in
                for (id, subscription) in state.subscriptions where subscription.channel == channel {
                    guard subscription.confirmedGeneration != generation else { continue }
                    let event: RedisPubSubEvent = subscription.confirmedGeneration == nil ? .subscribed : .resubscribed
                    state.subscriptions[id]?.confirmedGeneration = generation
                    deliveries.append((subscription.continuation, event))
                }
            }
        default:
            return
        }
        // Pushes of one connection arrive on one event loop thread, so yielding outside the lock keeps order.
        for (continuation, event) in deliveries { continuation.yield(event) }
    }
}
