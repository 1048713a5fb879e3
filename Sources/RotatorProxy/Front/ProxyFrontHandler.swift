import ClientAccess
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
/// unchanged, to Hummingbird's handlers behind it (admin API, page, health, metrics). It executes what
/// `ClientConnectionStateMachine` decides: pipelined requests wait in arrival order until the answer before them has
/// ended, reads are held only while that queue is over its bound (never toggled per request), the idle, read and
/// whole-request timeouts hold for every request (admin and proxy alike), and graceful quiesce is honoured.
final class ProxyFrontHandler: ChannelDuplexHandler, RemovableChannelHandler, ProxyExchangeOwner {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let service: ProxyService
    private let connector: any UpstreamConnecting
    private var machine: ClientConnectionStateMachine
    private var context: ChannelHandlerContext?
    /// The exchange serving the current proxied request.
    private(set) var exchange: ProxyExchange?
    /// The connection's one timer, re-armed when it fires.
    private var timer: Scheduled<Void>?
    /// Renews the running exchange's concurrency lease every `QuotaLease.renewEvery` s; started by the first exchange
    /// that holds one, kept across the connection's requests, stopped at a tick when none needs it.
    private var leaseRenewal: Scheduled<Void>?
    /// The client-key secret this connection presented last (its requests after the first skip the keyed hash).
    private(set) lazy var presentedSecret = PresentedSecretMemo()

    init(service: ProxyService, connector: any UpstreamConnecting, timeouts: ClientTimeouts) {
        self.service = service
        self.connector = connector
        self.machine = ClientConnectionStateMachine(timeouts: timeouts)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        machine.added(now: context.eventLoop.now)
        if context.channel.isActive { armTimer(context, at: machine.firstDeadline) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armTimer(context, at: machine.firstDeadline)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        leaseRenewal?.cancel()
        leaseRenewal = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        leaseRenewal?.cancel()
        leaseRenewal = nil
        machine.connectionInactive()
        exchange?.clientClosed()
        exchange = nil
        context.fireChannelInactive()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        execute(machine.partRead(unwrapInboundIn(data), now: context.eventLoop.now), context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        machine.readComplete(now: context.eventLoop.now)
        context.fireChannelReadComplete()
    }

    private func execute(_ action: ClientConnectionStateMachine.PartAction, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .startExchange(let head, let route):
            let exchange = ProxyExchange(head: head, route: route, context: context, owner: self, service: service, connector: connector)
            self.exchange = exchange
            exchange.start()
        case .forward(let part, let then):
            context.fireChannelRead(wrapInboundOut(part))
            execute(then, context: context)
        case .exchangeBody(let chunk):
            exchange?.receiveBody(chunk)
        case .exchangeEnd:
            exchange?.receiveEnd()
        case .close:
            context.close(promise: nil)
        }
    }

    private func execute(_ action: ClientConnectionStateMachine.AfterRequest, context: ChannelHandlerContext) {
        switch action {
        case .nothing: break
        case .drain: drain(context)
        case .close: context.close(promise: nil)
        }
    }

    private func drain(_ context: ChannelHandlerContext) {
        while true {
            switch machine.nextQueued(now: context.eventLoop.now) {
            case .route(let action):
                execute(action, context: context)
            case .drained(let read):
                // Parts that waited were passed on outside a read: Hummingbird's async channel hands what it buffered to
                // its reader at the end of a read, so end it here too (without this, a pipelined request would wait forever).
                context.fireChannelReadComplete()
                if read { context.read() }
                return
            }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.clientWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if machine.quiesce() { context.fireUserInboundEventTriggered(event) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch machine.errorCaught() {
        case .forward:
            context.fireErrorCaught(error)
        case .close(let abandonExchange):
            if abandonExchange { exchange?.clientClosed() }
            context.close(promise: nil)
        case .ignore:
            break
        }
    }

    // MARK: Outbound (Hummingbird's answers)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        context.write(data, promise: promise)
        execute(machine.answerPartWritten(part, now: context.eventLoop.now), context: context)
    }

    /// Holds the socket's reads while the queue of pipelined requests is over its bound; passes them untouched
    /// otherwise.
    func read(context: ChannelHandlerContext) {
        if machine.readRequested() { context.read() }
    }

    // MARK: Exchanges

    func exchangeFinished(_ exchange: ProxyExchange, closeConnection close: Bool) {
        guard let context, let running = self.exchange, running === exchange else { return }
        self.exchange = nil
        execute(machine.exchangeFinished(closeConnection: close, now: context.eventLoop.now), context: context)
    }

    func exchangeHoldsLease(_ exchange: ProxyExchange) {
        guard leaseRenewal == nil, let context else { return }
        armLeaseRenewal(context)
    }

    private func armLeaseRenewal(_ context: ChannelHandlerContext) {
        leaseRenewal = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(QuotaLease.renewEvery * 1000))) { [weak self] in
            guard let self else { return }
            self.leaseRenewal = nil
            // Only the running exchange can hold a lease (pipelined ones wait for it); none: stop until one does.
            if self.exchange?.leaseRenewalDue() == true, let context = self.context { self.armLeaseRenewal(context) }
        }
    }

    // MARK: Timeouts

    private func armTimer(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        guard timer == nil else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        guard let context, let action = machine.timerFired(now: context.eventLoop.now) else { return }
        switch action {
        case .arm(let deadline):
            armTimer(context, at: deadline)
        case .close:
            context.close(promise: nil)
        case .cutOff:
            // A client that stopped sending mid-request has had its time.
            exchange?.clientClosed()
            context.close(promise: nil)
        case .requestTimedOut(let answer):
            let message = requestTimeoutMessage
            switch answer {
            case .exchange: exchange?.requestTimedOut(message: message)
            case .answer: answerRequestTimeout(context, message: message)
            case .none: break
            }
            context.close(promise: nil)
        }
    }

    /// The request's head and body took longer than `CLIENT_REQUEST_TIMEOUT` in all, however steadily they came.
    private var requestTimeoutMessage: String {
        let milliseconds = machine.timeouts.request.nanoseconds / 1_000_000
        let seconds = milliseconds % 1000 == 0 ? String(milliseconds / 1000) : String(Double(milliseconds) / 1000)
        return "the request did not arrive in full within \(seconds) s (CLIENT_REQUEST_TIMEOUT); send its head and body without stalling"
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
