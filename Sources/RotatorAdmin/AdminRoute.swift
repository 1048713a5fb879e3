import HTTPTypes
import Hummingbird
import RotatorHTTP

/// One admin endpoint. Each resource is a list of these, so registration and the OpenAPI check walk the same list.
public struct AdminRoute: Sendable {
    public let method: HTTPRequest.Method
    /// The path below its resource, OpenAPI-style (`/{id}/status`; empty for the resource itself).
    let subpath: String
    /// The resource's path (`/admin/proxy-configs`), set when the route is listed in an `AdminResource`.
    fileprivate(set) var resourcePath = ""
    /// False only for login and app-config: every other route sits behind `AdminAuthMiddleware`.
    public let requiresToken: Bool
    /// The most of a request body the handler may read (413 beyond); read only after the token check.
    public let maxBodyBytes: Int
    let handler: @Sendable (Request, RotatorRequestContext) async throws -> Response

    init(
        _ method: HTTPRequest.Method, _ subpath: String = "", requiresToken: Bool = true,
        maxBodyBytes: Int = RotatorRequestContext.standardUploadLimit,
        handler: @escaping @Sendable (Request, RotatorRequestContext) async throws -> Response
    ) {
        self.method = method
        self.subpath = subpath
        self.requiresToken = requiresToken
        self.maxBodyBytes = maxBodyBytes
        self.handler = handler
    }

    /// OpenAPI-style path (`/admin/proxy-configs/{id}`).
    public var path: String { resourcePath + subpath }

    /// The full path in Hummingbird's syntax (`/admin/proxy-configs/:id`).
    var routerPath: String { Self.routerSyntax(path) }

    static func routerSyntax(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
    }
}

/// One resource of the admin API (configs, keys, the audit log, the session, ...): its routes under one path, added to
/// the router as Hummingbird route collections (the public ones and those behind the token check).
struct AdminResource: Sendable {
    let path: String
    let routes: [AdminRoute]

    init(_ path: String, _ routes: [AdminRoute]) {
        self.path = path
        self.routes = routes.map { route in
            var route = route
            route.resourcePath = path
            return route
        }
    }

    /// The resource's routes that do (or do not) require a token, each reading at most its own body limit. Added to a
    /// group behind `AdminAuthMiddleware`, the limit applies only once the token is checked: a refused request costs its head.
    func collection(requiringToken: Bool) -> RouteCollection<RotatorRequestContext> {
        let collection = RouteCollection(context: RotatorRequestContext.self)
        for route in routes where route.requiresToken == requiringToken {
            let handler = route.handler
            let bodyLimit = route.maxBodyBytes
            collection.on(RouterPath(AdminRoute.routerSyntax(route.subpath)), method: route.method) { request, context in
                var context = context
                context.maxUploadSize = bodyLimit
                return try await handler(request, context)
            }
        }
        return collection
    }
}
