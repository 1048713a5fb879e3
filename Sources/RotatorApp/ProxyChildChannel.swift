import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import RotatorProxy
import Synchronization

/// Hummingbird's server child channel with the proxy in front: the HTTP/1.1 codec, then the relay's front handler
/// (which serves proxy routes on this connection's event loop), then Hummingbird's own handlers for everything else.
/// One port, one listener, one connection for both.
public struct ProxyChildChannel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public let responder: HTTPChannelHandler.Responder
    private let service: ProxyService
    private let limits: ClientLimits
    private let openConnections: OpenConnections

    public init(responder: @escaping HTTPChannelHandler.Responder, service: ProxyService, limits: ClientLimits) {
        self.responder = responder
        self.service = service
        self.limits = limits
        self.openConnections = OpenConnections(limit: limits.maxConnections)
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            guard openConnections.admit() else {
                logger.warning("client connection refused: MAX_CONNECTIONS reached", metadata: ["limit": "\(limits.maxConnections)"])
                channel.close(promise: nil)
                throw ChannelError.inappropriateOperationForState
            }
            let counter = openConnections
            channel.closeFuture.whenComplete { _ in counter.release() }
            let sync = channel.pipeline.syncOperations
            try sync.addProxyFront(service: service, limits: limits)
            try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            // Idle and read timeouts are the front handler's: it sees proxied requests, which never reach this one.
            try sync.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

/// Counts open client connections against `MAX_CONNECTIONS`.
final class OpenConnections: Sendable {
    private let count = Atomic<Int>(0)
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func admit() -> Bool {
        let now = count.add(1, ordering: .relaxed).newValue
        if now > limit {
            count.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release() {
        count.subtract(1, ordering: .relaxed)
    }
}
