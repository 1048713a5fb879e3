import NIOCore
import NIOHTTP1

/// How long a client connection may sit idle between requests, and how long a request may take between two of its
/// bytes (slow clients), before the connection closes.
public struct ClientTimeouts: Sendable {
    public var idle: TimeAmount
    public var read: TimeAmount

    public init(idle: TimeAmount, read: TimeAmount) {
        self.idle = idle
        self.read = read
    }
}

/// The first handler after the HTTP/1.1 codec on every client connection. It owns `/llm/…` and `/proxy/…`: each such
/// request becomes a `ProxyExchange` served on this connection's event loop. Every other request passes through,
/// unchanged, to Hummingbird's handlers behind it (admin API, page, health, metrics). Pipelined requests wait in
/// arrival order until the answer before them has ended, so answers keep their order; reads are never toggled per
/// request. It also keeps the connection's idle and read timeouts and honours graceful quiesce.
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
    private var isDraining = false
    private var isQuiescing = false
    private var isClosing = false
    /// The loop's clock (virtual in tests) when a byte last arrived or an answer last ended.
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?

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
        queued.removeAll()
        context.fireChannelInactive()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = context.eventLoop.now
        guard !isClosing else { return }
        let part = unwrapInboundIn(data)
        if !queued.isEmpty {
            queued.append(part)
            return
        }
        route(part, context: context)
    }

    private func route(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch current {
        case .idle:
            guard case .head(let head) = part else { return }
            if let route = ProxyRoute(uri: head.uri) {
                let exchange = ProxyExchange(head: head, route: route, context: context, owner: self, service: service, connector: connector)
                current = .proxied(exchange)
                exchange.start()
            } else {
                current = .passThrough(requestOpen: true, responseOpen: true)
                context.fireChannelRead(wrapInboundOut(part))
            }
        case .passThrough(let requestOpen, let responseOpen):
            guard requestOpen else {
                queued.append(part)
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
                queued.append(part)
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
        if case .proxied(let exchange) = current { exchange.clientWritabilityChanged(isWritable: context.channel.isWritable) }
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
        if case .end = unwrapOutboundIn(data) { isEnd = true } else { isEnd = false }
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
        guard !isDraining else { return }
        isDraining = true
        defer { isDraining = false }
        // Route while a request can take parts: none is running, or the running one is still arriving.
        while !isClosing, isIdle || isReceivingRequest, let part = queued.popFirst() {
            route(part, context: context)
        }
    }

    private func closeConnection(_ context: ChannelHandlerContext) {
        guard !isClosing else { return }
        isClosing = true
        queued.removeAll()
        context.close(promise: nil)
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
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline ?? lastActivity + min(timeouts.idle, timeouts.read)) { [weak self] in
            self?.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        guard let context, !isClosing else { return }
        let now = context.eventLoop.now
        if case .idle = current {
            guard now - lastActivity < timeouts.idle else { return closeConnection(context) }
            // Look again by the read timeout at the latest: a request that starts meanwhile is bounded by it.
            return armTimer(context, at: min(lastActivity + timeouts.idle, now + timeouts.read))
        }
        guard isReceivingRequest else {
            // An answer is going out: the upstream's own timeout bounds it; look again later.
            return armTimer(context, at: now + timeouts.read)
        }
        guard now - lastActivity < timeouts.read else {
            // A client that stopped sending mid-request has had its time.
            if case .proxied(let exchange) = current { exchange.clientClosed() }
            return closeConnection(context)
        }
        armTimer(context, at: lastActivity + timeouts.read)
    }
}
