import RotatorSQL

/// A key's ciphertext as read from its row, with what it is bound to.
struct EncryptedKeyRow: Sendable {
    static let selectColumns = "id, proxy_config_id, key_ciphertext, key_fingerprint"

    var id: Int64
    var ciphertext: String
    var binding: KeyRowBinding

    init(row: SQLRow) throws {
        id = try row.int64("id")
        ciphertext = try row.string("key_ciphertext")
        binding = KeyRowBinding(configID: try row.int64("proxy_config_id"), fingerprint: try row.string("key_fingerprint"))
    }
}
