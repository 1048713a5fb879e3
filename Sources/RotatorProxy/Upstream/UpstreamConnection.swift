import NIOCore
import NIOHTTP1
import NIOSSL

/// What an upstream connection tells the exchange using it.
protocol UpstreamResponseReceiver: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    /// The end of one socket read: flush what was relayed so far.
    func upstreamReadComplete()
    /// The connection closed or broke (a malformed answer, a reset) before the exchange completed: no (whole) answer;
    /// or its certificate could not be verified (`.tls`).
    func upstreamFailed(_ failure: TransportFailure)
}

/// One keep-alive HTTP/1.1 connection to an upstream, the last handler of its pipeline. It carries one exchange at a
/// time, passes the answer to that exchange's receiver, and lets the receiver pause reading while the client
/// cannot take more (back-pressure). Used only on its channel's event loop.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let origin: UpstreamOrigin
    private(set) var context: ChannelHandlerContext?
    private weak var receiver: (any UpstreamResponseReceiver)?
    /// Called once when the channel closes, so the pool forgets it.
    var onClose: ((UpstreamConnection) -> Void)?
    private var readsPaused = false
    private var readPending = false
    /// The current answer said `Connection: close` (or was HTTP/1.0 without keep-alive).
    private var answerClosesConnection = false
    /// When it last finished an exchange (idle expiry).
    var idleSince = NIODeadline.now()

    init(origin: UpstreamOrigin) {
        self.origin = origin
    }

    var isActive: Bool { context?.channel.isActive ?? false }

    /// Whether it may carry another exchange after the current one completed.
    var isReusable: Bool { isActive && !answerClosesConnection }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Sends one request; its answer goes to `receiver`.
    func send(head: HTTPRequestHead, body: ByteBuffer, to receiver: any UpstreamResponseReceiver) {
        guard let context else {
            receiver.upstreamFailed(.noAnswer(requestFullySent: false, timedOut: false))
            return
        }
        self.receiver = receiver
        answerClosesConnection = false
        readsPaused = false
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// The exchange is over (complete answer read): the connection is free again.
    func detach() {
        receiver = nil
        idleSince = context?.eventLoop.now ?? .now()
        // A read held for the last exchange goes out now: an idle connection is read, so the pool sees it close.
        resumeReads()
    }

    func close() {
        receiver = nil
        context?.close(promise: nil)
    }

    func pauseReads() {
        readsPaused = true
    }

    /// Idempotent: a second resume (or one without a pause) does nothing.
    func resumeReads() {
        guard readsPaused else { return }
        readsPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    // MARK: ChannelHandler

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(let head) = part { answerClosesConnection = !head.isKeepAlive }
        receiver?.upstreamReceived(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        receiver?.upstreamReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure: TransportFailure
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            failure = .tls(Self.describeTLS(error))
        } else {
            failure = .noAnswer(requestFullySent: true, timedOut: false)
        }
        let receiver = self.receiver
        self.receiver = nil
        receiver?.upstreamFailed(failure)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let receiver = self.receiver
        self.receiver = nil
        receiver?.upstreamFailed(.noAnswer(requestFullySent: true, timedOut: false))
        onClose?(self)
        onClose = nil
        context.fireChannelInactive()
    }

    /// Short and free of URLs: the reason the certificate was refused.
    private static func describeTLS(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") { return "certificate verify failed" }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname { return "certificate does not match the host name" }
        return text.count > 120 ? String(text.prefix(120)) : text
    }
}
