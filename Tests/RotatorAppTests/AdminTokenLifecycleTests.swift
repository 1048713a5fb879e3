import Foundation
import NIOHTTP1
import Testing

/// Admin tokens end when the admin password changes and on `POST /admin/logout`.
@Suite(.serialized) struct AdminTokenLifecycleTests {
    static let jwtSecret = "shared-jwt-secret-0123456789abcdef"

    static func login(_ node: TestNode, password: String = TestNode.adminPassword) async throws -> String {
        let reply = try await node.send(.POST, "/admin/login", body: #"{"username":"admin","password":"\#(password)"}"#)
        return try #require(try reply.object()["access_token"] as? String, "login: \(reply.status) \(reply.text)")
    }

    static func list(_ node: TestNode, token: String) async throws -> Int {
        try await node.send(.GET, "/admin/proxy-configs", headers: [("Authorization", "Bearer \(token)")]).status
    }

    /// The same JWT secret, another admin password (as after a restart with a new `ADMIN_PASSWORD`): the old
    /// token is refused, a new login works.
    @Test func tokensEndWhenThePasswordChanges() async throws {
        try await withRunningNode(environment: ["JWT_SECRET": Self.jwtSecret]) { before in
            try await withRunningNode(environment: ["JWT_SECRET": Self.jwtSecret, "ADMIN_PASSWORD": "a-new-admin-password-42"]) { after in
                let token = try await Self.login(before)
                #expect(try await Self.list(before, token: token) == 200)
                #expect(try await Self.list(after, token: token) == 401, "a token of the old password still worked")
                #expect(try await Self.list(after, token: try await Self.login(after, password: "a-new-admin-password-42")) == 200)
            }
        }
    }

    @Test func logoutEndsOneToken() async throws {
        try await withRunningNode { node in
            let ended = try await Self.login(node)
            let kept = try await Self.login(node)
            let logout = try await node.send(.POST, "/admin/logout", headers: [("Authorization", "Bearer \(ended)")])
            #expect(logout.status == 204, "\(logout.text)")
            #expect(try await Self.list(node, token: ended) == 401)
            #expect(try await node.send(.POST, "/admin/logout", headers: [("Authorization", "Bearer \(ended)")]).status == 401)
            #expect(try await Self.list(node, token: kept) == 200, "other sessions stay")
            let audit = try await node.send(.GET, "/admin/audit-log", headers: [("Authorization", "Bearer \(kept)")]).text
            #expect(audit.contains("\"logout\""), "\(audit)")
        }
    }
}
