import Crypto
import Foundation
import JWTKit
import KeyCoordination
import RotatorCore

/// Issues and checks admin login tokens: JWT, HS256 only, with an expiry, an id (`jti`, what a logout revokes) and
/// a generation (`gen`) derived from the admin password under the JWT secret, so changing `ADMIN_PASSWORD` or
/// `JWT_SECRET` ends every token issued before. Tokens signed with any other algorithm (`none` included) or
/// tampered with are refused by the key collection.
public struct AdminTokens: Sendable {
    struct Payload: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var jti: IDClaim
        var gen: String

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    /// What a valid token says.
    public struct Verified: Sendable, Equatable {
        public var subject: String
        public var id: String
        /// Unix seconds.
        public var expiresAt: Double
    }

    private let keys: JWTKeyCollection
    /// The current generation: tokens carrying another one were issued under an earlier password or secret.
    private let generation: String
    private let revocations: any TokenRevocationList
    let lifetime: Double

    public init(secret: String, password: String, lifetimeSeconds: Double, revocations: any TokenRevocationList = InMemoryTokenRevocationList()) async {
        let keys = JWTKeyCollection()
        // HS256 wants a key of at least 32 bytes; hashing the configured secret gives exactly that for any length.
        let key = SymmetricKey(data: SHA256.hash(data: Data(secret.utf8)))
        await keys.add(hmac: HMACKey(key: key), digestAlgorithm: .sha256)
        self.keys = keys
        self.generation = Self.generation(password: password, key: key)
        self.revocations = revocations
        self.lifetime = lifetimeSeconds
    }

    /// A MAC of the password under the signing key, cut to 128 bits: it tells generations apart and says nothing
    /// about the password to whoever reads a token.
    static func generation(password: String, key: SymmetricKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(("admin-token-generation\u{0}" + password).utf8), using: key)
        return Data(mac).prefix(16).base64EncodedString()
    }

    public func issue(subject: String, now: Date = Date()) async throws -> String {
        let payload = Payload(
            sub: SubjectClaim(value: subject), exp: ExpirationClaim(value: now.addingTimeInterval(lifetime)), iat: IssuedAtClaim(value: now),
            jti: IDClaim(value: UUID().uuidString), gen: generation
        )
        return try await keys.sign(payload)
    }

    /// The token's subject when it is valid, nil otherwise.
    public func verify(_ token: String) async -> String? {
        await verified(token)?.subject
    }

    /// The token's claims when it is signed by this node's secret, unexpired, of the current generation and not
    /// revoked; nil otherwise.
    public func verified(_ token: String) async -> Verified? {
        guard let payload = try? await keys.verify(token, as: Payload.self), ConstantTime.equals(payload.gen, generation),
            !(await revocations.isRevoked(id: payload.jti.value))
        else { return nil }
        return Verified(subject: payload.sub.value, id: payload.jti.value, expiresAt: payload.exp.value.timeIntervalSince1970)
    }

    /// Ends one token before its expiry, on every node that shares the revocation list.
    public func revoke(_ token: Verified) async {
        await revocations.revoke(id: token.id, expiresAt: token.expiresAt)
    }
}
