import HTTPTypes
import Hummingbird
import RotatorHTTP

/// One admin endpoint. The API is a list of these, so registration and the OpenAPI check walk the same list.
public struct AdminRoute: Sendable {
    public let method: HTTPRequest.Method
    /// OpenAPI-style path (`/admin/proxy-configs/{id}`).
    public let path: String
    /// False only for login and app-config.
    public let requiresToken: Bool
    /// The most of a request body the handler may read (413 beyond); read only after the token check.
    public let maxBodyBytes: Int
    let handler: @Sendable (Request, RotatorRequestContext) async throws -> Response

    init(
        method: HTTPRequest.Method, path: String, requiresToken: Bool, maxBodyBytes: Int = RotatorRequestContext.standardUploadLimit,
        handler: @escaping @Sendable (Request, RotatorRequestContext) async throws -> Response
    ) {
        self.method = method
        self.path = path
        self.requiresToken = requiresToken
        self.maxBodyBytes = maxBodyBytes
        self.handler = handler
    }

    /// The same path in Hummingbird's syntax (`/admin/proxy-configs/:id`).
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
    }
}
