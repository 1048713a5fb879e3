import Foundation
import RotatorAdmin
import Testing

@Suite struct AdminTokensTests {
    let secret = "test-secret-0123456789abcdef"
    let password = "admin-password-0123"

    private func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test func issuedTokenVerifies() async throws {
        let tokens = await AdminTokens(secret: secret, password: password, lifetimeSeconds: 60)
        let token = try await tokens.issue(subject: "admin")
        #expect(await tokens.verify(token) == "admin")
        let header = try #require(token.split(separator: ".").first)
        let decoded = try #require(Data(base64Encoded: String(header) + String(repeating: "=", count: (4 - header.count % 4) % 4)))
        #expect(String(decoding: decoded, as: UTF8.self).contains("HS256"))
    }

    @Test func expiredTokenIsRefused() async throws {
        let tokens = await AdminTokens(secret: secret, password: password, lifetimeSeconds: 60)
        let token = try await tokens.issue(subject: "admin", now: Date().addingTimeInterval(-3600))
        #expect(await tokens.verify(token) == nil)
    }

    @Test func algNoneIsRefused() async throws {
        let tokens = await AdminTokens(secret: secret, password: password, lifetimeSeconds: 60)
        let exp = Int(Date().timeIntervalSince1970) + 3600
        let unsigned = base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + base64URL(#"{"sub":"admin","exp":\#(exp),"iat":1}"#) + "."
        #expect(await tokens.verify(unsigned) == nil)
    }

    @Test func tamperedTokenIsRefused() async throws {
        let tokens = await AdminTokens(secret: secret, password: password, lifetimeSeconds: 60)
        let token = try await tokens.issue(subject: "admin")
        var parts = token.split(separator: ".").map(String.init)
        let exp = Int(Date().timeIntervalSince1970) + 999_999
        parts[1] = base64URL(#"{"sub":"root","exp":\#(exp),"iat":1}"#)
        #expect(await tokens.verify(parts.joined(separator: ".")) == nil)
        let other = await AdminTokens(secret: "another-secret-0123456789", password: password, lifetimeSeconds: 60)
        #expect(await other.verify(token) == nil)
        #expect(await tokens.verify("garbage") == nil)
    }

    /// A token issued before the admin password (or the JWT secret) changed is refused by the node that has the new one.
    @Test func tokensOfAnEarlierPasswordAreRefused() async throws {
        let before = await AdminTokens(secret: secret, password: password, lifetimeSeconds: 60)
        let token = try await before.issue(subject: "admin")
        let samePassword = await AdminTokens(secret: secret, password: password, lifetimeSeconds: 60)
        #expect(await samePassword.verify(token) == "admin", "a restart with the same settings keeps tokens valid")
        let newPassword = await AdminTokens(secret: secret, password: "a-new-admin-password", lifetimeSeconds: 60)
        #expect(await newPassword.verify(token) == nil)
        let payload = try #require(token.split(separator: ".").dropFirst().first)
        let claims = try #require(Data(base64Encoded: String(payload) + String(repeating: "=", count: (4 - payload.count % 4) % 4)))
        #expect(!String(decoding: claims, as: UTF8.self).contains(password), "the token does not carry the password")
    }

    @Test func revokedTokenIsRefusedAndOthersStay() async throws {
        let tokens = await AdminTokens(secret: secret, password: password, lifetimeSeconds: 60)
        let ended = try await tokens.issue(subject: "admin")
        let kept = try await tokens.issue(subject: "admin")
        await tokens.revoke(try #require(await tokens.verified(ended)))
        #expect(await tokens.verify(ended) == nil)
        #expect(await tokens.verify(kept) == "admin")
    }
}
