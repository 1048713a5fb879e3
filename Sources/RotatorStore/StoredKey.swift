/// A key secret ready for its row: encrypted, fingerprinted and masked, computed before the transaction so
/// the database lock is not held during cryptography.
struct StoredKey: Sendable {
    var fingerprint: String
    var ciphertext: String
    var mask: String
}
