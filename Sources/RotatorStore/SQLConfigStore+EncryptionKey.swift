import RotatorCore
import RotatorSQL

extension SQLConfigStore {
    /// The message a node stops with when its `ENCRYPTION_KEY` is not the store's.
    public static let encryptionKeyMismatchMessage = """
        ENCRYPTION_KEY does not match the key this store's upstream keys were encrypted with: start the node with \
        the store's ENCRYPTION_KEY (in lightweight mode, the data directory's encryption.key)
        """

    /// Refuses a master key other than the one the store was first used with. The first node to run this on a
    /// store records the key's check value; on a store that has keys but no check value yet (written before
    /// checks existed) the key must open at least one of them.
    func verifyEncryptionKey() async throws {
        let expected = cipher.keyCheck
        for _ in 0..<2 {
            let found = try await perform { connection -> (stored: String?, sample: [EncryptedKeyRow]) in
                if let row = try connection.queryFirst("SELECT check_value FROM store_key_check WHERE id = 1") {
                    return (try row.string("check_value"), [])
                }
                let sample = try connection.query(
                    "SELECT \(EncryptedKeyRow.selectColumns) FROM api_keys ORDER BY id LIMIT 20"
                ).map(EncryptedKeyRow.init(row:))
                return (nil, sample)
            }
            if let stored = found.stored {
                guard ConstantTime.equals(stored, expected) else { throw StoreError.corrupt(Self.encryptionKeyMismatchMessage) }
                return
            }
            guard found.sample.isEmpty || found.sample.contains(where: opens) else {
                throw StoreError.corrupt(Self.encryptionKeyMismatchMessage)
            }
            do {
                try await perform { connection in
                    _ = try connection.execute("INSERT INTO store_key_check (id, check_value) VALUES (1, ?)", [.text(expected)])
                }
                return
            } catch StoreError.conflict {
                continue  // another node recorded its key first: compare with that one
            }
        }
        throw StoreError.unavailable("the encryption key check could not be recorded")
    }

    /// Re-encrypts `v1:` rows (not bound to their row) in the bound format, a batch at a time. Each update only
    /// applies while the row still holds the text that was read, so nodes migrating at once cannot clash. A row
    /// that does not open stays as it is and is reported as undecryptable when its config is loaded.
    func rebindLegacyCiphertexts() async throws {
        var afterID: Int64 = 0
        while true {
            let after = afterID
            let batch = try await perform { connection in
                try connection.query(
                    "SELECT \(EncryptedKeyRow.selectColumns) FROM api_keys WHERE id > ? AND key_ciphertext LIKE 'v1:%' ORDER BY id LIMIT 500",
                    [.int(after)]
                ).map(EncryptedKeyRow.init(row:))
            }
            guard let last = batch.last else { return }
            afterID = last.id
            let rebound: [(id: Int64, old: String, new: String)] = try batch.compactMap { row in
                guard let secret = try? cipher.decryptLegacy(row.ciphertext) else { return nil }
                return (row.id, row.ciphertext, try cipher.encrypt(secret, for: row.binding))
            }
            guard !rebound.isEmpty else { continue }
            try await perform { connection in
                try connection.transaction {
                    for row in rebound {
                        try connection.execute(
                            "UPDATE api_keys SET key_ciphertext = ? WHERE id = ? AND key_ciphertext = ?",
                            [.text(row.new), .int(row.id), .text(row.old)]
                        )
                    }
                }
            }
        }
    }

    private func opens(_ row: EncryptedKeyRow) -> Bool {
        if KeyCipher.isLegacy(row.ciphertext) { return (try? cipher.decryptLegacy(row.ciphertext)) != nil }
        return (try? cipher.decrypt(row.ciphertext, for: row.binding)) != nil
    }
}
