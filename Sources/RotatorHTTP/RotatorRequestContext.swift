import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's core storage plus the client's address
/// (login throttling) and the request id (logs, responses, upstream).
public struct RotatorRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by `RequestIDMiddleware` before any handler runs.
    public var requestID: String = ""
    /// Filled in by handlers that want their outcome in the access log.
    public let accessLogFields: AccessLogFields
    /// The admin user a valid token names (set by the admin API's token check; the audit log's "who").
    public var adminUser: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.accessLogFields = AccessLogFields()
    }

    /// The most a route may read of a request body. Admin batch imports of 10 000 keys fit the standard limit
    /// comfortably; the admin API lowers it per route before the handler runs (login: 4 KiB), and routes behind
    /// a token set it only once the token is checked. The proxy reads bodies itself with its own limit.
    public var maxUploadSize: Int = Self.standardUploadLimit

    public static let standardUploadLimit = 16 * 1024 * 1024

    /// The client's IP as text, for throttling and logs.
    public var clientAddress: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}
