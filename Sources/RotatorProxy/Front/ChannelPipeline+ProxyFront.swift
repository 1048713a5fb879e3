import NIOCore
import NIOHTTP1

/// Limits that protect the node from its own clients.
public struct ClientLimits: Sendable {
    public var timeouts: ClientTimeouts
    /// Open client connections at most (`MAX_CONNECTIONS`); more are closed on accept.
    public var maxConnections: Int
    /// Request head bounds: one header field, all of them, and their count.
    public var maxHeaderFieldSize: Int = 16 * 1024
    public var maxHeaderListSize: Int = 64 * 1024
    public var maxHeaderFieldCount: Int = 256

    public init(timeouts: ClientTimeouts, maxConnections: Int) {
        self.timeouts = timeouts
        self.maxConnections = maxConnections
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// A client connection's HTTP/1.1 codec with the relay in front: `ProxyFrontHandler` serves proxy routes on this
    /// connection's event loop and passes every other request, as HTTP/1 parts, to the handlers added after it.
    public func addProxyFront(service: ProxyService, limits: ClientLimits) throws {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = limits.maxHeaderFieldSize
        decoderLimits.maxHeaderListSize = limits.maxHeaderListSize
        decoderLimits.maxHeaderFieldCount = limits.maxHeaderFieldCount
        try configureHTTPServerPipeline(
            withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
            withEncoderConfiguration: .init(), withDecoderLimitConfiguration: decoderLimits
        )
        let connector = service.pools.pool(on: eventLoop) ?? service.pools.makeStandalonePool(on: eventLoop)
        try addHandler(ProxyFrontHandler(service: service, connector: connector, timeouts: limits.timeouts))
    }
}
