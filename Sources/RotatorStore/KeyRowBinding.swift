/// What a key's ciphertext is bound to: the row it belongs in, as AES-GCM associated data. A ciphertext
/// copied into another row (another config, or another key of the same config) fails to decrypt there.
///
/// Both parts are fixed for the life of a row and known before it is inserted (the row id is not): a key's
/// secret never changes, so neither does its fingerprint, and a key never moves to another config.
public struct KeyRowBinding: Sendable, Equatable {
    public var configID: Int64
    /// The row's `key_fingerprint` (HMAC of the secret; unique within its config).
    public var fingerprint: String

    public init(configID: Int64, fingerprint: String) {
        self.configID = configID
        self.fingerprint = fingerprint
    }

    var associatedData: [UInt8] {
        Array("rotator-api-key\u{0}config=\(configID)\u{0}fingerprint=\(fingerprint)".utf8)
    }
}
