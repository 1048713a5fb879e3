import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// One TCP connection to Redis on a SwiftNIO channel. Any number of commands may be in flight at once
/// (pipelining); replies are matched to commands in order.
///
/// A command that gets no reply within its timeout fails with `RedisError.timeout` and closes the connection;
/// when the connection closes, every pending command fails with `RedisError.connectionClosed`. A connection
/// never reconnects: `RedisClient` and `RedisSubscriber` replace closed connections.
public final class RedisConnection: Sendable {
    public let commandTimeout: Duration
    private let channel: any Channel
    private let handler: NIOLoopBound<RedisCommandHandler>

    private let tls: TLSOutcome?

    private init(channel: any Channel, handler: NIOLoopBound<RedisCommandHandler>, commandTimeout: Duration, tls: TLSOutcome? = nil) {
        self.channel = channel
        self.handler = handler
        self.commandTimeout = commandTimeout
        self.tls = tls
    }

    /// Why a TLS connection closed before answering its first commands: the TLS error that came after the handshake,
    /// or, when none was seen, the usual reason (Redis itself answers refusals with an error reply, not a close).
    func tlsFailureBeforeFirstReply(_ error: any Error) -> RedisTLSError? {
        tls?.failureBeforeFirstReply(error)
    }

    /// Opens a connection. No AUTH or SELECT: that is `RedisClient`'s job (or send them yourself).
    public static func connect(
        host: String,
        port: Int,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(1),
        logger: Logger = Logger(label: "redis")
    ) async throws -> RedisConnection {
        try await connect(
            host: host, port: port, eventLoopGroup: eventLoopGroup, connectTimeout: connectTimeout,
            commandTimeout: commandTimeout, pushHandler: nil, logger: logger
        )
    }

    static func connect(
        host: String,
        port: Int,
        eventLoopGroup: any EventLoopGroup,
        connectTimeout: Duration,
        commandTimeout: Duration,
        tls: NIOSSLContext? = nil,
        pushHandler: (@Sendable (RESPValue) -> Void)?,
        closesOnReadOnly: Bool = false,
        logger: Logger
    ) async throws -> RedisConnection {
        let eventLoop = eventLoopGroup.next()
        let outcome = tls.map { _ in TLSOutcome(eventLoop: eventLoop) }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls, let outcome {
                        try channel.pipeline.syncOperations.addHandlers([
                            try NIOSSLClientHandler(context: tls, serverHostname: RedisTLS.serverName(for: host)),
                            TLSHandshakeObserver(outcome: outcome),
                        ])
                    }
                    try channel.pipeline.syncOperations.addHandlers([
                        RESPReplyDecoder(), RedisCommandHandler(pushHandler: pushHandler, closesOnReadOnly: closesOnReadOnly),
                    ])
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            logger.debug("redis connect failed", metadata: ["redis.endpoint": "\(host):\(port)", "error": "\(error)"])
            throw RedisError.unavailable("cannot connect to \(host):\(port): \(error)")
        }
        if let outcome {
            try await awaitHandshake(outcome, on: channel, host: host, port: port, timeout: connectTimeout, logger: logger)
        }
        do {
            let handler = try await channel.eventLoop.submit {
                NIOLoopBound(
                    try channel.pipeline.syncOperations.handler(type: RedisCommandHandler.self),
                    eventLoop: channel.eventLoop
                )
            }.get()
            return RedisConnection(channel: channel, handler: handler, commandTimeout: commandTimeout, tls: outcome)
        } catch {
            // Closed already: with TLS, most likely the server refused our certificate right after the handshake.
            channel.close(promise: nil)
            throw outcome?.failureBeforeFirstReply(RedisError.connectionClosed) ?? RedisError.connectionClosed
        }
    }

    /// Waits for the TLS handshake (bounded by the connect timeout); a failure closes the channel and throws
    /// `RedisTLSError` saying why.
    private static func awaitHandshake(
        _ outcome: TLSOutcome, on channel: any Channel, host: String, port: Int, timeout: Duration, logger: Logger
    ) async throws {
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            // A plain-text server waits for a command line that never comes.
            outcome.handshake.fail(RedisTLSError.handshakeFailed("no TLS handshake within \(timeout); does that port speak TLS?"))
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            try await outcome.handshake.futureResult.get()
        } catch {
            channel.close(promise: nil)
            let failure = RedisTLSError.classify(error, host: host)
            logger.debug("redis TLS handshake failed", metadata: ["redis.endpoint": "\(host):\(port)", "error": "\(failure)"])
            throw failure
        }
    }

    /// Sends a command and waits for its reply. An error reply throws `RedisError.server`.
    public func send(_ arguments: [RedisArgument], timeout: Duration? = nil) async throws -> RESPValue {
        let reply = try await sendReturningErrorReply(arguments, timeout: timeout)
        if case .error(let message) = reply { throw RedisError.server(message) }
        return reply
    }

    public func send(_ arguments: [String], timeout: Duration? = nil) async throws -> RESPValue {
        try await send(arguments.map { RedisArgument($0) }, timeout: timeout)
    }

    /// Like `send`, but an error reply comes back as `.error` instead of being thrown.
    public func sendReturningErrorReply(_ arguments: [RedisArgument], timeout: Duration? = nil) async throws -> RESPValue {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        enqueue(arguments, promise: promise, timeout: timeout ?? commandTimeout)
        return try await promise.futureResult.get()
    }

    /// Like `sendReturningErrorReply`, for callers on an event loop: the future completes on this connection's loop.
    public func sendFuture(_ arguments: [RedisArgument], timeout: Duration? = nil) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        enqueue(arguments, promise: promise, timeout: timeout ?? commandTimeout)
        return promise.futureResult
    }

    /// One `EVALSHA`; `SCRIPT LOAD` and a second `EVALSHA` only after Redis lost its script cache. An error reply
    /// fails the future with `RedisError.server`.
    public func evalScriptFuture(_ script: RedisScript, keys: [RedisArgument], args: [RedisArgument]) -> EventLoopFuture<RESPValue> {
        let command = ["EVALSHA", RedisArgument(script.sha1), RedisArgument(keys.count)] + keys + args
        return sendFuture(command).flatMap { reply in
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
                return self.sendFuture(["SCRIPT", "LOAD", RedisArgument(script.source)]).flatMap { _ in self.sendFuture(command) }
                    .flatMapThrowing(Self.failOnErrorReply)
            }
            return self.channel.eventLoop.makeCompletedFuture { try Self.failOnErrorReply(reply) }
        }
    }

    private static func failOnErrorReply(_ reply: RESPValue) throws -> RESPValue {
        if case .error(let message) = reply { throw RedisError.server(message) }
        return reply
    }

    /// The loop this connection's I/O runs on.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Sends several commands back to back in one write and returns their replies in order. Error replies
    /// come back as `.error` values (one failing command does not hide the others' results); losing the
    /// connection or a timeout throws.
    public func pipeline(_ commands: [[RedisArgument]], timeout: Duration? = nil) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        var buffer = channel.allocator.buffer(capacity: 64 * commands.count)
        for command in commands { RESPCommandEncoder.encode(command, into: &buffer) }
        let encoded = buffer
        let eventLoop = channel.eventLoop
        let promises = commands.map { _ in eventLoop.makePromise(of: RESPValue.self) }
        let deadline = eventLoop.now + TimeAmount(timeout ?? commandTimeout)
        let handler = self.handler
        if eventLoop.inEventLoop {
            handler.value.enqueueBatch(encoded, promises: promises, deadline: deadline)
        } else {
            eventLoop.execute { handler.value.enqueueBatch(encoded, promises: promises, deadline: deadline) }
        }
        // One wake-up for the whole batch instead of one per reply.
        return try await EventLoopFuture.whenAllSucceed(promises.map(\.futureResult), on: eventLoop).get()
    }

    /// Writes a command whose answer arrives as a push frame (SUBSCRIBE, UNSUBSCRIBE).
    func sendExpectingPush(_ arguments: [RedisArgument]) {
        enqueue(arguments, promise: nil, timeout: commandTimeout)
    }

    private func enqueue(_ arguments: [RedisArgument], promise: EventLoopPromise<RESPValue>?, timeout: Duration) {
        // Encoding happens on the caller's thread, keeping the event loop for I/O.
        var buffer = channel.allocator.buffer(capacity: 64)
        RESPCommandEncoder.encode(arguments, into: &buffer)
        let command = buffer
        let deadline = channel.eventLoop.now + TimeAmount(timeout)
        let eventLoop = channel.eventLoop
        if eventLoop.inEventLoop {
            handler.value.enqueue(command, promise: promise, deadline: deadline)
        } else {
            let handler = self.handler
            eventLoop.execute {
                handler.value.enqueue(command, promise: promise, deadline: deadline)
            }
        }
    }

    /// False once the connection closed (by either side, a timeout or a protocol error).
    public var isOpen: Bool { channel.isActive }

    /// Completes when the channel has closed.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Closes the connection; pending commands fail with `RedisError.connectionClosed`.
    public func close() async {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.close(failingWith: .connectionClosed) }
        try? await channel.closeFuture.get()
    }

    /// Waits until the connection has closed.
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }
}
