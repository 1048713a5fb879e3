import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Encrypts key secrets for storage and fingerprints them for duplicate detection.
///
/// Stored format: `v2:` + base64(nonce ‖ ciphertext ‖ tag), AES-256-GCM with the master key (a fresh random
/// nonce per secret, so equal secrets encrypt differently) and the row's `KeyRowBinding` as associated data,
/// so a ciphertext only opens in the row it was written for. `v1:` is the same without associated data:
/// stores written before it are re-encrypted by the store's migration, and only that reads `v1:`.
///
/// Duplicates are found through a fingerprint: HMAC-SHA256 under a subkey derived from the master key,
/// stored in a unique index, so neither finding a duplicate nor reading the index needs (or reveals) a secret.
public struct KeyCipher: Sendable {
    public static let keyByteCount = 32
    private static let formatPrefix = "v2:"
    private static let legacyFormatPrefix = "v1:"
    private static let nonceByteCount = 12
    private static let tagByteCount = 16

    private let encryptionKey: SymmetricKey
    /// HMAC state already keyed with the fingerprint subkey: each fingerprint copies it instead of
    /// re-processing the key (a batch import fingerprints thousands of secrets).
    private let fingerprintHMAC: HMAC<SHA256>
    /// Identifies the master key without revealing it (see `keyCheck`).
    public let keyCheck: String

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
        // Stored once per store, so a node started with another ENCRYPTION_KEY can tell before it serves.
        let checkKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, info: Array("rotator-key-check".utf8), outputByteCount: Self.keyByteCount
        )
        self.keyCheck = "v1:" + Self.hex(HMAC<SHA256>.authenticationCode(for: Array("rotator encryption key check".utf8), using: checkKey))
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

    /// Encrypts `secret` for the row `row`: only `decrypt(_:for:)` with the same binding opens it.
    public func encrypt(_ secret: String, for row: KeyRowBinding) throws -> String {
        let sealed = try AES.GCM.seal(Array(secret.utf8), using: encryptionKey, authenticating: row.associatedData)
        // `combined` is nil only for non-standard nonce sizes, which `seal` never picks.
        guard let combined = sealed.combined else { throw KeyCipherError.encryptionFailed }
        return Self.formatPrefix + combined.base64EncodedString()
    }

    /// - Throws: `KeyCipherError.malformedCiphertext` for text not produced by `encrypt` (a `v1:` text included:
    ///   the migration upgrades those), `KeyCipherError.authenticationFailed` for a wrong master key, tampered
    ///   data or a ciphertext that belongs to another row.
    public func decrypt(_ stored: String, for row: KeyRowBinding) throws -> String {
        let box = try Self.sealedBox(stored, prefix: Self.formatPrefix)
        return try Self.text(try open { try AES.GCM.open(box, using: encryptionKey, authenticating: row.associatedData) })
    }

    /// Reads the unbound `v1:` format of earlier releases; only the migration that re-encrypts such rows calls it.
    func decryptLegacy(_ stored: String) throws -> String {
        let box = try Self.sealedBox(stored, prefix: Self.legacyFormatPrefix)
        return try Self.text(try open { try AES.GCM.open(box, using: encryptionKey) })
    }

    static func isLegacy(_ stored: String) -> Bool {
        stored.hasPrefix(legacyFormatPrefix)
    }

    private static func sealedBox(_ stored: String, prefix: String) throws -> AES.GCM.SealedBox {
        guard stored.hasPrefix(prefix),
            let combined = Data(base64Encoded: String(stored.dropFirst(prefix.count))),
            combined.count >= Self.nonceByteCount + Self.tagByteCount,
            let box = try? AES.GCM.SealedBox(combined: combined)
        else { throw KeyCipherError.malformedCiphertext }
        return box
    }

    private func open(_ body: () throws -> Data) throws -> Data {
        do {
            return try body()
        } catch {
            throw KeyCipherError.authenticationFailed
        }
    }

    private static func text(_ plaintext: Data) throws -> String {
        guard let secret = String(validating: plaintext, as: UTF8.self) else { throw KeyCipherError.malformedCiphertext }
        return secret
    }

    /// Lowercase hex HMAC-SHA256 of the secret under the fingerprint subkey (64 characters).
    public func fingerprint(_ secret: String) -> String {
        var hmac = fingerprintHMAC
        hmac.update(data: Array(secret.utf8))
        return Self.hex(hmac.finalize())
    }

    private static func hex(_ code: HashedAuthenticationCode<SHA256>) -> String {
        code.reduce(into: "") { hex, byte in
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    private static let hexDigits = Array("0123456789abcdef")
}
