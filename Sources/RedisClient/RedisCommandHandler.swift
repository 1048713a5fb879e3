import NIOCore

/// The last handler of a Redis channel: writes commands, matches replies to them in FIFO order, fails
/// commands that waited past their deadline, and hands pub/sub push frames to a callback.
///
/// Lives on the channel's event loop; `RedisConnection` reaches it through `NIOLoopBound`.
final class RedisCommandHandler: ChannelInboundHandler {
    typealias InboundIn = RESPValue
    typealias OutboundOut = ByteBuffer

    private var pending = PendingCommandQueue<EventLoopPromise<RESPValue>>()
    private var context: ChannelHandlerContext?
    /// Set once the channel is closing: later commands fail at once.
    private var closed = false
    private var flushScheduled = false
    private var timer: Scheduled<Void>?
    private let pushHandler: (@Sendable (RESPValue) -> Void)?
    /// Close the connection after a `-READONLY` reply: it reached a replica (a demoted master), so whoever owns it
    /// reconnects and finds the master again (Sentinel).
    private let closesOnReadOnly: Bool

    /// With a `pushHandler`, replies that look like pub/sub pushes (`["message", channel, payload]`,
    /// `["subscribe", channel, count]`, ...) go to it instead of to the oldest command. Only the subscriber's
    /// connection has one: there no command can return such an array.
    init(pushHandler: (@Sendable (RESPValue) -> Void)? = nil, closesOnReadOnly: Bool = false) {
        self.pushHandler = pushHandler
        self.closesOnReadOnly = closesOnReadOnly
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(.connectionClosed)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error as? RedisError ?? .connectionClosed)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        if let pushHandler, Self.isPush(reply) {
            pushHandler(reply)
            return
        }
        guard let promise = pending.popFirst() else {
            failAll(.protocolError("reply without a pending command"))
            context.close(promise: nil)
            return
        }
        promise.succeed(reply)
        if closesOnReadOnly, case .error(let message) = reply, message.hasPrefix("READONLY") {
            close(failingWith: .connectionClosed)
        }
    }

    /// Writes one encoded command. With a promise the next unmatched reply completes it; without one (only
    /// for SUBSCRIBE/UNSUBSCRIBE, whose confirmations arrive as pushes) nothing waits for a reply.
    func enqueue(_ command: ByteBuffer, promise: EventLoopPromise<RESPValue>?, deadline: NIODeadline) {
        guard !closed, let context else {
            promise?.fail(RedisError.connectionClosed)
            return
        }
        if let promise, let timerDeadline = pending.append(promise, deadline: deadline) {
            armTimer(for: timerDeadline)
        }
        context.write(wrapOutboundOut(command), promise: nil)
        scheduleFlush()
    }

    /// Writes several encoded commands at once; `promises[i]` gets the i-th reply.
    func enqueueBatch(_ commands: ByteBuffer, promises: [EventLoopPromise<RESPValue>], deadline: NIODeadline) {
        guard !closed, let context else {
            for promise in promises { promise.fail(RedisError.connectionClosed) }
            return
        }
        for promise in promises {
            if let timerDeadline = pending.append(promise, deadline: deadline) { armTimer(for: timerDeadline) }
        }
        context.write(wrapOutboundOut(commands), promise: nil)
        scheduleFlush()
    }

    /// Fails every pending command with `error` and closes the channel.
    func close(failingWith error: RedisError) {
        failAll(error)
        context?.close(promise: nil)
    }

    /// Writes queued by tasks already waiting on the event loop go out in the same flush: concurrent callers
    /// share system calls and TCP segments.
    private func scheduleFlush() {
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            self.context?.flush()
        }
    }

    private func armTimer(for deadline: NIODeadline) {
        guard let context else { return }
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        guard let context else { return }
        switch pending.timerFired(now: context.eventLoop.now) {
        case .idle:
            break
        case .rearm(let deadline):
            armTimer(for: deadline)
        case .expired(let timedOut, let abandoned):
            closed = true
            for promise in timedOut { promise.fail(RedisError.timeout) }
            for promise in abandoned { promise.fail(RedisError.connectionClosed) }
            context.close(promise: nil)
        }
    }

    private func failAll(_ error: RedisError) {
        closed = true
        timer?.cancel()
        timer = nil
        for promise in pending.removeAll() { promise.fail(error) }
    }

    private static let pushKinds: Set<String> = [
        "message", "pmessage", "smessage", "subscribe", "unsubscribe", "psubscribe", "punsubscribe",
        "ssubscribe", "sunsubscribe",
    ]

    static func isPush(_ reply: RESPValue) -> Bool {
        guard let elements = reply.array, elements.count >= 3, case .bulkString(let kind?) = elements[0] else {
            return false
        }
        return pushKinds.contains(String(decoding: kind, as: UTF8.self))
    }
}
