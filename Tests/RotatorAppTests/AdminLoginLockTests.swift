import Foundation
import NIOHTTP1
import Testing

/// A stranger guessing the admin's password from many addresses slows the user name down but never locks the
/// real admin out; the client's address comes from `X-Forwarded-For` only through `TRUSTED_PROXIES`.
@Suite(.serialized) struct AdminLoginLockTests {
    static let wrong = #"{"username":"admin","password":"not-the-password"}"#
    static let right = #"{"username":"admin","password":"\#(TestNode.adminPassword)"}"#

    static func login(_ node: TestNode, from address: String, body: String) async throws -> TestNode.Reply {
        try await node.send(.POST, "/admin/login", headers: [("X-Forwarded-For", address)], body: body)
    }

    @Test func strangersElsewhereCannotLockTheAdminOut() async throws {
        try await withRunningNode(environment: ["TRUSTED_PROXIES": "127.0.0.1"]) { node in
            for index in 0..<25 {
                let reply = try await Self.login(node, from: "198.51.100.\(index)", body: Self.wrong)
                #expect(reply.status == 401, "a stranger's first guess is a plain refusal (\(reply.status))")
            }
            let started = ContinuousClock.now
            let admin = try await Self.login(node, from: "203.0.113.5", body: Self.right)
            #expect(admin.status == 200, "the admin was locked out by strangers: \(admin.status) \(admin.text)")
            #expect(ContinuousClock.now - started < .seconds(10), "slowed by at most a short delay")
            // One stranger's own address still locks after its free attempts.
            var statuses: [Int] = []
            for _ in 0..<7 { statuses.append(try await Self.login(node, from: "198.51.100.200", body: Self.wrong).status) }
            #expect(statuses.last == 429, "\(statuses)")
            #expect(try await Self.login(node, from: "203.0.113.5", body: Self.right).status == 200)
        }
    }

    /// Without `TRUSTED_PROXIES` the header is the client's own words: every request counts as the peer's.
    @Test func forwardedForIsIgnoredFromUntrustedPeers() async throws {
        try await withRunningNode { node in
            var statuses: [Int] = []
            for index in 0..<7 { statuses.append(try await Self.login(node, from: "198.51.100.\(index)", body: Self.wrong).status) }
            #expect(statuses.last == 429, "made-up addresses escaped the lock: \(statuses)")
        }
    }

    @Test func loginBodiesAreLimitedTo4KiB() async throws {
        try await withRunningNode { node in
            let padding = String(repeating: "x", count: 5000)
            let reply = try await node.send(.POST, "/admin/login", body: #"{"username":"admin","password":"\#(padding)"}"#)
            #expect(reply.status == 413)
            #expect(try reply.object()["error"] as? String != nil, "\(reply.text)")
            #expect(try await node.send(.POST, "/admin/login", body: Self.right).status == 200)
        }
    }
}
