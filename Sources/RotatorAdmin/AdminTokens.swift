import Crypto
import Foundation
import JWTKit

/// Issues and checks admin login tokens: JWT, HS256 only, with an expiry. Tokens signed with any other
/// algorithm (`none` included) or tampered with are refused by the key collection.
public struct AdminTokens: Sendable {
    struct Payload: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    private let keys: JWTKeyCollection
    let lifetime: Double

    public init(secret: String, lifetimeSeconds: Double) async {
        let keys = JWTKeyCollection()
        // HS256 wants a key of at least 32 bytes; hashing the configured secret gives exactly that for any length.
        let key = SymmetricKey(data: SHA256.hash(data: Data(secret.utf8)))
        await keys.add(hmac: HMACKey(key: key), digestAlgorithm: .sha256)
        self.keys = keys
        self.lifetime = lifetimeSeconds
    }

    public func issue(subject: String, now: Date = Date()) async throws -> String {
        let payload = Payload(sub: SubjectClaim(value: subject), exp: ExpirationClaim(value: now.addingTimeInterval(lifetime)), iat: IssuedAtClaim(value: now))
        return try await keys.sign(payload)
    }

    /// The token's subject when it is valid, nil otherwise.
    public func verify(_ token: String) async -> String? {
        guard let payload = try? await keys.verify(token, as: Payload.self) else { return nil }
        return payload.sub.value
    }
}
