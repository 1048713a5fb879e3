/// Why a key could not be encrypted or decrypted. Messages never include key material.
public enum KeyCipherError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The master key is not 32 bytes (or not base64).
    case invalidMasterKey
    /// The stored text is not in the `v2:` format.
    case malformedCiphertext
    /// The authentication tag did not verify: wrong master key, or the data was altered.
    case authenticationFailed
    case encryptionFailed

    public var description: String {
        switch self {
        case .invalidMasterKey:
            return "ENCRYPTION_KEY must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)"
        case .malformedCiphertext:
            return "stored key is not in the expected encrypted format"
        case .authenticationFailed:
            return "stored key cannot be decrypted: wrong ENCRYPTION_KEY or altered data"
        case .encryptionFailed:
            return "key encryption failed"
        }
    }
}
