import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Keep-alive upstream connections of one event loop, by origin. Used only on that loop, so it needs no lock; a
/// connection goes back only after a complete exchange, and one idle for longer than `idleExpiry` (kept below the
/// keep-alive of common upstreams) is closed rather than reused.
final class UpstreamConnectionPool {
    let eventLoop: any EventLoop
    private let tls: UpstreamTLS
    private let connectTimeout: TimeAmount
    private let idleExpiry: TimeAmount
    private let maxIdlePerOrigin: Int
    private var idle: [UpstreamOrigin: [UpstreamConnection]] = [:]

    init(eventLoop: any EventLoop, tls: UpstreamTLS, connectTimeout: TimeAmount, idleExpiry: TimeAmount, maxIdlePerOrigin: Int = 512) {
        self.eventLoop = eventLoop
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.idleExpiry = idleExpiry
        self.maxIdlePerOrigin = maxIdlePerOrigin
    }

    /// The most recently used idle connection to `origin`, if a live one is there.
    func idleConnection(to origin: UpstreamOrigin) -> UpstreamConnection? {
        guard var list = idle[origin], !list.isEmpty else { return nil }
        let now = eventLoop.now
        var found: UpstreamConnection?
        while let candidate = list.popLast() {
            if candidate.isActive, now - candidate.idleSince < idleExpiry {
                found = candidate
                break
            }
            candidate.onClose = nil
            candidate.close()
        }
        idle[origin] = list
        return found
    }

    /// A new connection: TCP (and TLS for https), then the HTTP/1.1 client codec.
    func connect(to origin: UpstreamOrigin) -> EventLoopFuture<UpstreamConnection> {
        let tls = self.tls
        let connection = UpstreamConnection(origin: origin)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if origin.usesTLS {
                        try sync.addHandler(try tls.makeHandler(serverHostname: origin.isIPAddress ? nil : origin.host))
                    }
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(connection)
                }
            }
            .connect(host: origin.host, port: origin.port)
            .map { _ in connection }
    }

    /// After a complete exchange: kept for the next request to this origin, or closed.
    func release(_ connection: UpstreamConnection) {
        connection.detach()
        guard connection.isReusable else {
            connection.close()
            return
        }
        var list = idle[connection.origin, default: []]
        guard list.count < maxIdlePerOrigin else {
            connection.close()
            return
        }
        connection.onClose = { [weak self] closed in self?.forget(closed) }
        list.append(connection)
        idle[connection.origin] = list
    }

    private func forget(_ connection: UpstreamConnection) {
        idle[connection.origin]?.removeAll { $0 === connection }
    }

    /// Closes every idle connection (shutdown).
    func closeAll() {
        for list in idle.values {
            for connection in list {
                connection.onClose = nil
                connection.close()
            }
        }
        idle = [:]
    }
}

/// The client TLS settings for every upstream, built once: certificate and host name verification on, the system's
/// trust roots plus an optional CA file (`UPSTREAM_CA_FILE`), ALPN `http/1.1`.
public struct UpstreamTLS: Sendable {
    private let context: NIOSSLContext

    public init(additionalCAFile: String? = nil) throws {
        var configuration = Self.clientConfiguration(additionalCAFile: additionalCAFile)
        configuration.applicationProtocols = ["http/1.1"]
        self.context = try NIOSSLContext(configuration: configuration)
    }

    /// What every client of an upstream trusts (the relay, and the admin API's key checks): full verification, the
    /// system's roots plus the CA file.
    public static func clientConfiguration(additionalCAFile: String?) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        if let additionalCAFile, !additionalCAFile.isEmpty {
            configuration.additionalTrustRoots = [.file(additionalCAFile)]
        }
        return configuration
    }

    func makeHandler(serverHostname: String?) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
    }
}

/// One `UpstreamConnectionPool` per event loop of the server's group, found by the loop a request runs on.
public final class UpstreamPools: Sendable {
    private let pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>]
    private let tls: UpstreamTLS
    private let connectTimeout: TimeAmount
    private let idleExpiry: TimeAmount

    public convenience init(group: any EventLoopGroup, tls: UpstreamTLS, connectTimeout: TimeAmount, idleExpiry: TimeAmount = .seconds(20)) {
        self.init(loops: Array(group.makeIterator()), tls: tls, connectTimeout: connectTimeout, idleExpiry: idleExpiry)
    }

    /// - Parameter loops: the loops that get a pool up front (none: every connection makes its own, as in tests).
    public init(loops: [any EventLoop], tls: UpstreamTLS, connectTimeout: TimeAmount, idleExpiry: TimeAmount = .seconds(20)) {
        var pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>] = [:]
        for loop in loops {
            // NIOLoopBound must be made on its loop; the pool itself is only ever touched there.
            let pool = try? loop.submit {
                NIOLoopBound(UpstreamConnectionPool(eventLoop: loop, tls: tls, connectTimeout: connectTimeout, idleExpiry: idleExpiry), eventLoop: loop)
            }.wait()
            if let pool { pools[ObjectIdentifier(loop)] = pool }
        }
        self.pools = pools
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.idleExpiry = idleExpiry
    }

    /// A pool for a loop outside the group (a connection served by another group): that connection's own.
    func makeStandalonePool(on loop: any EventLoop) -> UpstreamConnectionPool {
        UpstreamConnectionPool(eventLoop: loop, tls: tls, connectTimeout: connectTimeout, idleExpiry: idleExpiry)
    }

    /// The pool of the loop the caller runs on (nil for a loop outside the group).
    func pool(on loop: any EventLoop) -> UpstreamConnectionPool? {
        pools[ObjectIdentifier(loop)]?.value
    }

    /// Closes idle connections on every loop.
    public func shutdown() {
        for bound in pools.values {
            let pool = bound
            _ = bound.eventLoop.submit { pool.value.closeAll() }
        }
    }
}
