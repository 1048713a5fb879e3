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
    let handler: @Sendable (Request, RotatorRequestContext) async throws -> Response

    /// The same path in Hummingbird's syntax (`/admin/proxy-configs/:id`).
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
    }
}
