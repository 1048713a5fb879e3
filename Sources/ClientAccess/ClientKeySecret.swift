import Crypto
import Foundation

/// A client key's secret: `rk-` and 43 random characters of `[A-Za-z0-9]` (about 256 bits), shown once at creation
/// or rotation and never stored.
public enum ClientKeySecret {
    public static let prefix = "rk-"
    static let length = 43
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(length)
        for _ in 0..<length { bytes.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)]) }
        return prefix + String(decoding: bytes, as: UTF8.self)
    }

    /// `rk-Ab…xY9z`: the prefix, two characters after it and the last four.
    public static func hint(_ secret: String) -> String {
        let characters = Array(secret)
        guard characters.count >= 12 else { return "…" }
        return String(characters.prefix(prefix.count + 2)) + "…" + String(characters.suffix(4))
    }
}

/// The keyed hash a client key is stored and looked up by: HMAC-SHA256 under a key derived (HKDF-SHA256) from the
/// node's `ENCRYPTION_KEY`, so a copy of the store alone cannot be used to test guesses.
public struct ClientKeyHasher: Sendable {
    /// HMAC's state with the key already absorbed: each hash copies it instead of preparing the key again (the key's
    /// preparation is about half of an HMAC of a short secret).
    private let keyed: HMAC<SHA256>

    public init(encryptionKey: String) {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(encryptionKey.utf8)), info: Data("api-key-rotator client-key hash v1".utf8),
            outputByteCount: 32
        )
        keyed = HMAC<SHA256>(key: key)
    }

    public func hash(_ secret: String) -> ClientKeyHash {
        var hmac = keyed
        var secret = secret
        secret.withUTF8 { hmac.update(data: UnsafeRawBufferPointer($0)) }
        return ClientKeyHash(bytes: hmac.finalize().withUnsafeBytes { Array($0) })
    }
}

/// The 32 bytes of a client key's keyed hash (stored as 64 lowercase hex characters).
public struct ClientKeyHash: Sendable, Hashable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        var index = 0
        while index < 64 {
            guard let high = Self.nibble(utf8[index]), let low = Self.nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.bytes = bytes
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
