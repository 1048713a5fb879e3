import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Encrypts key secrets for storage and fingerprints them for duplicate detection.
///
/// Stored format: `v1:` + base64(nonce ‖ ciphertext ‖ tag), AES-256-GCM with the master key (a fresh random
/// nonce per secret, so equal secrets encrypt differently). Because of that, duplicates are found through a
/// fingerprint instead: HMAC-SHA256 under a subkey derived from the master key, stored in a unique index,
/// so neither finding a duplicate nor reading the index needs (or reveals) a secret.
public struct KeyCipher: Sendable {
    public static let keyByteCount = 32
    private static let formatPrefix = "v1:"
    private static let nonceByteCount = 12
    private static let tagByteCount = 16

    private let encryptionKey: SymmetricKey
    /// HMAC state already keyed with the fingerprint subkey: each fingerprint copies it instead of
    /// re-processing the key (a batch import fingerprints thousands of secrets).
    private let fingerprintHMAC: HMAC<SHA256>

    /// - Throws: `KeyCipherError.invalidMasterKey` unless `masterKey` is exactly 32 bytes.
    public init(masterKey: some Collection<UInt8>) throws {
        guard masterKey.count == Self.keyByteCount else { throw KeyCipherError.invalidMasterKey }
        let key = SymmetricKey(data: Array(masterKey))
        self.encryptionKey = key
        // A separate key for fingerprints: an HMAC output never reveals anything about the encryption key.
        let fingerprintKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key,
            info: Array("rotator-key-fingerprint".utf8),
            outputByteCount: Self.keyByteCount
        )
        self.fingerprintHMAC = HMAC<SHA256>(key: fingerprintKey)
    }

    /// From `ENCRYPTION_KEY`: 32 bytes, base64-encoded. Surrounding whitespace (a trailing newline) is ignored.
    public init(base64: String) throws {
        let trimmed = base64.trimmingWhitespace()
        guard let bytes = Data(base64Encoded: trimmed) else { throw KeyCipherError.invalidMasterKey }
        try self.init(masterKey: bytes)
    }

    /// A fresh random master key, base64-encoded (what lightweight mode writes into its data directory).
    public static func generateKeyBase64() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    public func encrypt(_ secret: String) throws -> String {
        let sealed = try AES.GCM.seal(Array(secret.utf8), using: encryptionKey)
        // `combined` is nil only for non-standard nonce sizes, which `seal` never picks.
        guard let combined = sealed.combined else { throw KeyCipherError.encryptionFailed }
        return Self.formatPrefix + combined.base64EncodedString()
    }

    /// - Throws: `KeyCipherError.malformedCiphertext` for text not produced by `encrypt`,
    ///   `KeyCipherError.authenticationFailed` for a wrong master key or tampered data.
    public func decrypt(_ stored: String) throws -> String {
        guard stored.hasPrefix(Self.formatPrefix),
            let combined = Data(base64Encoded: String(stored.dropFirst(Self.formatPrefix.count))),
            combined.count >= Self.nonceByteCount + Self.tagByteCount
        else { throw KeyCipherError.malformedCiphertext }

        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            plaintext = try AES.GCM.open(box, using: encryptionKey)
        } catch {
            throw KeyCipherError.authenticationFailed
        }
        guard let secret = String(validating: plaintext, as: UTF8.self) else {
            throw KeyCipherError.malformedCiphertext
        }
        return secret
    }

    /// Lowercase hex HMAC-SHA256 of the secret under the fingerprint subkey (64 characters).
    public func fingerprint(_ secret: String) -> String {
        var hmac = fingerprintHMAC
        hmac.update(data: Array(secret.utf8))
        let code = hmac.finalize()
        return code.reduce(into: "") { hex, byte in
            hex.append(Self.hexDigits[Int(byte >> 4)])
            hex.append(Self.hexDigits[Int(byte & 0x0F)])
        }
    }

    private static let hexDigits = Array("0123456789abcdef")
}
