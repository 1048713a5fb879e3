import NIOCore
import NIOHTTP1
import UpstreamProviders

/// How long a client connection may sit idle between requests, how long a request may take between two of its bytes
/// (slow clients), and how long its head and body may take in all (clients that trickle), before the connection
/// closes.
public struct ClientTimeouts: Sendable {
    public var idle: TimeAmount
    public var read: TimeAmount
    /// From a request's first bytes to its end (`CLIENT_REQUEST_TIMEOUT`); past it the client gets a 408 when nothing
    /// was answered yet, and the connection closes.
    public var request: TimeAmount

    public init(idle: TimeAmount, read: TimeAmount, request: TimeAmount = .seconds(60)) {
        self.idle = idle
        self.read = read
        self.request = request
    }
}

/// The first handler after the HTTP/1.1 codec on every client connection. It owns `/llm/…` and `/proxy/…`: each such
/// request becomes a `ProxyExchange` served on this connection's event loop. Every other request passes through,
/// unchanged, to Hummingbird's handlers behind it (admin API, page, health, metrics). Pipelined requests wait in
/// arrival order until the answer before them has ended, so answers keep their order; reads are never toggled per
/// request, only held while the queue of waiting requests is over its bound. It also keeps the connection's idle,
/// read and whole-request timeouts for every request (admin and proxy alike) and honours graceful quiesce.
final class ProxyFrontHandler: ChannelDuplexHandler, RemovableChannelHandler, ProxyExchangeOwner {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Current {
        case idle
        /// Hummingbird serves it; it is over when both its request and its answer have ended.
        case passThrough(requestOpen: Bool, responseOpen: Bool)
        case proxied(ProxyExchange)
        /// A refused request whose body is still arriving: dropped until its end, then the connection closes.
        case discarding
    }

    private let service: ProxyService
    private let connector: any UpstreamConnecting
    private let timeouts: ClientTimeouts
    private var context: ChannelHandlerContext?
    private var current = Current.idle
    /// Parts of requests that arrived while the one before was still being answered.
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    /// Requests (heads) and body bytes in `queued`.
    private var queuedRequests = 0
    private var queuedBodyBytes = 0
    /// A `read()` held back while the queue is over its bound: issued once the queue has drained below it.
    private var heldRead = false
    /// The queue's bound: past it the client's socket is not read until the answers before have caught up.
    static let queueBound = (requests: 4, bodyBytes: 64 * 1024)
    private var isDraining = false
    private var isQuiescing = false
    private var isClosing = false
    /// The loop's clock (virtual in tests) when a byte last arrived or an answer last ended.
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?
    /// When the request now arriving began: its first bytes (an unfinished head) or its head; nil between requests.
    private var requestStartedAt: NIODeadline?
    /// A request part was decoded in the current socket read: bytes without one are an unfinished head.
    private var decodedInRead = false
    /// The pass-through request's answer has begun (Hummingbird wrote its head).
    private var passThroughAnswered = false

    init(service: ProxyService, connector: any UpstreamConnecting, timeouts: ClientTimeouts) {
        self.service = service
        self.connector = connector
        self.timeouts = timeouts
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        lastActivity = context.eventLoop.now
        if context.channel.isActive { armTimer(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armTimer(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if case .proxied(let exchange) = current { exchange.clientClosed() }
        current = .idle
        clearQueue()
        context.fireChannelInactive()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = context.eventLoop.now
        decodedInRead = true
        guard !isClosing else { return }
        let part = unwrapInboundIn(data)
        if !queued.isEmpty {
            enqueue(part)
            return
        }
        route(part, context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !decodedInRead, requestStartedAt == nil, isIdle, queued.isEmpty {
            // Bytes came that make no part yet: the next request's head is arriving, and its time runs from now.
            requestStartedAt = context.eventLoop.now
        }
        decodedInRead = false
        context.fireChannelReadComplete()
    }

    private func route(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        if case .end = part { requestStartedAt = nil }
        switch current {
        case .idle:
            guard case .head(let head) = part else { return }
            requestStartedAt = requestStartedAt ?? context.eventLoop.now
            if let route = ProxyRoute(uri: head.uri) {
                let exchange = ProxyExchange(head: head, route: route, context: context, owner: self, service: service, connector: connector)
                current = .proxied(exchange)
                exchange.start()
            } else {
                current = .passThrough(requestOpen: true, responseOpen: true)
                passThroughAnswered = false
                context.fireChannelRead(wrapInboundOut(part))
            }
        case .passThrough(let requestOpen, let responseOpen):
            guard requestOpen else {
                enqueue(part)
                return
            }
            context.fireChannelRead(wrapInboundOut(part))
            if case .end = part {
                if responseOpen {
                    current = .passThrough(requestOpen: false, responseOpen: true)
                } else {
                    requestDone(context)
                }
            }
        case .proxied(let exchange):
            guard exchange.isReceivingRequest else {
                enqueue(part)
                return
            }
            switch part {
            case .body(let chunk): exchange.receiveBody(chunk)
            case .end: exchange.receiveEnd()
            case .head: break
            }
        case .discarding:
            if case .end = part { closeConnection(context) }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .proxied(let exchange) = current { exchange.clientWritabilityChanged() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        isQuiescing = true
        switch current {
        case .idle, .passThrough:
            // Hummingbird's connection handler closes the connection now (idle) or after its answer.
            context.fireUserInboundEventTriggered(event)
        case .proxied, .discarding:
            // A proxied answer (a stream, maybe) is still going out: the connection closes once it has ended.
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch current {
        case .proxied, .discarding:
            // A malformed request behind a proxied one: nothing more can be read in order.
            if case .proxied(let exchange) = current { exchange.clientClosed() }
            closeConnection(context)
        case .idle, .passThrough:
            context.fireErrorCaught(error)
        }
    }

    // MARK: Outbound (Hummingbird's answers)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let isEnd: Bool
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.status.code >= 200 { passThroughAnswered = true }
            isEnd = false
        case .body: isEnd = false
        case .end: isEnd = true
        }
        context.write(data, promise: promise)
        guard isEnd, case .passThrough(let requestOpen, true) = current else { return }
        if requestOpen {
            current = .passThrough(requestOpen: true, responseOpen: false)
        } else {
            requestDone(context)
        }
    }

    // MARK: Exchanges

    func exchangeFinished(_ exchange: ProxyExchange, closeConnection close: Bool) {
        guard let context, case .proxied(let running) = current, running === exchange else { return }
        if close || isQuiescing {
            if exchange.isReceivingRequest {
                current = .discarding
            } else {
                closeConnection(context)
            }
            return
        }
        requestDone(context)
    }

    /// The request and its answer are over: serve what waited behind it.
    private func requestDone(_ context: ChannelHandlerContext) {
        current = .idle
        lastActivity = context.eventLoop.now
        if isQuiescing, queued.isEmpty {
            closeConnection(context)
            return
        }
        drain(context)
    }

    private func drain(_ context: ChannelHandlerContext) {
        guard !isDraining, !queued.isEmpty else { return }
        isDraining = true
        defer { isDraining = false }
        // Route while a request can take parts: none is running, or the running one is still arriving.
        while !isClosing, isIdle || isReceivingRequest, let part = dequeue() {
            route(part, context: context)
        }
        // Parts that waited were passed on outside a read: Hummingbird's async channel hands what it buffered to its
        // reader at the end of a read, so end it here too (without this, a pipelined request would wait forever).
        context.fireChannelReadComplete()
        if heldRead, !isClosing, !isQueueFull {
            heldRead = false
            context.read()
        }
    }

    private func closeConnection(_ context: ChannelHandlerContext) {
        guard !isClosing else { return }
        isClosing = true
        clearQueue()
        context.close(promise: nil)
    }

    // MARK: The queue of pipelined requests

    /// Holds the socket's reads while the queue is over its bound: a client that pipelines requests behind a slow
    /// answer costs at most a few requests and 64 KiB (plus one read) of memory. Reads pass untouched otherwise, so
    /// nothing is toggled per request.
    func read(context: ChannelHandlerContext) {
        if isQueueFull {
            heldRead = true
            return
        }
        context.read()
    }

    private var isQueueFull: Bool {
        queuedRequests >= Self.queueBound.requests || queuedBodyBytes >= Self.queueBound.bodyBytes
    }

    private func enqueue(_ part: HTTPServerRequestPart) {
        queued.append(part)
        switch part {
        case .head: queuedRequests += 1
        case .body(let chunk): queuedBodyBytes += chunk.readableBytes
        case .end: break
        }
    }

    private func dequeue() -> HTTPServerRequestPart? {
        guard let part = queued.popFirst() else { return nil }
        switch part {
        case .head: queuedRequests -= 1
        case .body(let chunk): queuedBodyBytes -= chunk.readableBytes
        case .end: break
        }
        return part
    }

    private func clearQueue() {
        queued.removeAll()
        queuedRequests = 0
        queuedBodyBytes = 0
    }

    // MARK: Timeouts

    private var isIdle: Bool {
        if case .idle = current { return true }
        return false
    }

    private var isReceivingRequest: Bool {
        switch current {
        case .idle: return false
        case .passThrough(let requestOpen, _): return requestOpen
        case .proxied(let exchange): return exchange.isReceivingRequest
        case .discarding: return true
        }
    }

    /// One timer per connection, re-armed when it fires: a request costs a clock read, not a reschedule.
    private func armTimer(_ context: ChannelHandlerContext, at deadline: NIODeadline? = nil) {
        guard timer == nil else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline ?? lastActivity + min(timeouts.idle, lookAgain)) { [weak self] in
            self?.timerFired()
        }
    }

    /// The longest the timer sleeps while a request may start unseen: a request that starts meanwhile is bounded by
    /// both the read and the request timeout.
    private var lookAgain: TimeAmount { min(timeouts.read, timeouts.request) }

    private func timerFired() {
        timer = nil
        guard let context, !isClosing else { return }
        let now = context.eventLoop.now
        let requestDue = requestStartedAt.map { $0 + timeouts.request }
        if let requestDue, now >= requestDue { return requestTimedOut(context) }
        if case .idle = current {
            guard now - lastActivity < timeouts.idle else { return closeConnection(context) }
            return armTimer(context, at: min(lastActivity + timeouts.idle, now + lookAgain, requestDue ?? .distantFuture))
        }
        guard isReceivingRequest else {
            // An answer is going out: the upstream's own timeout bounds it; look again later.
            return armTimer(context, at: now + lookAgain)
        }
        guard now - lastActivity < timeouts.read else {
            // A client that stopped sending mid-request has had its time.
            if case .proxied(let exchange) = current { exchange.clientClosed() }
            return closeConnection(context)
        }
        armTimer(context, at: min(lastActivity + timeouts.read, requestDue ?? .distantFuture))
    }

    /// The request's head and body took longer than `CLIENT_REQUEST_TIMEOUT` in all, however steadily they came: a 408
    /// when nothing was answered yet, then the connection closes.
    private func requestTimedOut(_ context: ChannelHandlerContext) {
        let milliseconds = timeouts.request.nanoseconds / 1_000_000
        let seconds = milliseconds % 1000 == 0 ? String(milliseconds / 1000) : String(Double(milliseconds) / 1000)
        let message = "the request did not arrive in full within \(seconds) s (CLIENT_REQUEST_TIMEOUT); send its head and body without stalling"
        switch current {
        case .proxied(let exchange):
            exchange.requestTimedOut(message: message)
        case .passThrough:
            if !passThroughAnswered { answerRequestTimeout(context, message: message) }
        case .idle:
            answerRequestTimeout(context, message: message)
        case .discarding:
            break
        }
        closeConnection(context)
    }

    /// The 408 of a request the proxy does not own (admin, page, an unfinished head), in the admin API's error shape.
    private func answerRequestTimeout(_ context: ChannelHandlerContext, message: String) {
        let body = ClientErrorShape.body(kind: .requestTimeout, status: 408, message: message, format: nil)
        let headers = HTTPHeaders([
            ("Content-Type", "application/json"), ("Content-Length", String(body.readableBytes)), ("Connection", "close"),
        ])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .requestTimeout, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
