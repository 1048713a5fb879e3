import Hummingbird
import RotatorHTTP

/// The token check of every admin route but login and app-config, as the middleware of their router group: it runs
/// before the route (so before a byte of the body is read) and answers the same 401 whatever the path names.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = RotatorRequestContext
    let tokens: AdminTokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.adminUser = try await Self.verifiedToken(request, tokens: tokens).subject
        return try await next(request, context)
    }

    /// The request's bearer token, verified; throws 401 without a valid one.
    static func verifiedToken(_ request: Request, tokens: AdminTokens) async throws -> AdminTokens.Verified {
        guard let header = request.headers[.authorization], header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw APIError(.unauthorized, "missing token: send 'Authorization: Bearer <access_token>' from POST /admin/login",
                           headers: [.wwwAuthenticate: "Bearer"])
        }
        guard let token = await tokens.verified(String(header.dropFirst(7))) else {
            throw APIError(.unauthorized, "invalid, expired or ended token: log in again", headers: [.wwwAuthenticate: "Bearer"])
        }
        return token
    }
}
