import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RotatorCore
import RotatorHTTP

/// The session (login, logout), what the page needs before it logs in, the API's own document, and the cluster.
extension AdminAPI {
    var sessionResource: AdminResource {
        AdminResource("/admin", [
            AdminRoute(.post, "/login", requiresToken: false, maxBodyBytes: Self.loginBodyLimit, handler: login),
            AdminRoute(.post, "/logout", handler: logout),
            AdminRoute(.get, "/app-config", requiresToken: false, handler: appConfig),
            AdminRoute(.get, "/openapi.json", handler: openAPIDocument),
        ])
    }

    var clusterResource: AdminResource {
        AdminResource("/admin/cluster", [AdminRoute(.get, handler: cluster)])
    }

    /// A login is a user name and a password: 4 KiB is plenty, and nobody without a password can make the node
    /// hold more.
    static let loginBodyLimit = 4 * 1024

    private func login(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let address = settings.clientAddresses.clientAddress(
            peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: Self.forwardedFor]
        )
        let input = try await AdminJSON.decode(LoginInput.self, from: request, context: context)
        // Counted before the password is compared: concurrent guesses cannot all pass one check.
        switch await loginLimiter.admit(address: address, username: input.username) {
        case .throttled(let wait):
            let seconds = max(Int(wait.rounded(.up)), 1)
            throw APIError(.tooManyRequests, "too many failed logins from this address; retry after \(seconds) s", headers: [.retryAfter: String(seconds)])
        case .slowed(let delay):
            // The user name is under attack from elsewhere: every attempt waits a little, the right password still gets in.
            try await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
        case .allowed:
            break
        }
        // Both comparisons always run, so timing does not tell which one failed.
        let userMatches = ConstantTime.equals(input.username, settings.username)
        let passwordMatches = ConstantTime.equals(input.password, settings.password)
        guard userMatches && passwordMatches else {
            context.logger.notice("admin login failed", metadata: ["client": .string(address)])
            await audit(context, "login.failed", target: "session", actor: String(input.username.prefix(64)))
            throw APIError.unauthorized("wrong username or password")
        }
        await loginLimiter.succeeded(address: address, username: input.username)
        await audit(context, "login", target: "session", actor: input.username)
        return JSONBody.response(LoginOutput(access_token: try await tokens.issue(subject: input.username)))
    }

    private static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    /// Ends the token the request carries, on every node (the revocation list is shared through Redis in
    /// enterprise mode); other tokens of the same user stay valid.
    private func logout(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let token = try await AdminAuthMiddleware.verifiedToken(request, tokens: tokens)
        await tokens.revoke(token)
        await audit(context, "logout", target: "session", actor: token.subject)
        return Response(status: .noContent)
    }

    private func appConfig(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        JSONBody.response(["proxy_public_base_url": settings.publicBaseURL])
    }

    private func openAPIDocument(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.data)))
    }

    private func cluster(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        JSONBody.response(await clusterNodes().map(ClusterNodeView.init))
    }
}
