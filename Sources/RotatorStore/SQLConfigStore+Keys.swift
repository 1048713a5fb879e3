import RotatorCore
import RotatorSQL

extension SQLConfigStore {
    public func keys(configID: Int64) async throws -> [APIKeyRecord] {
        try await perform { connection in
            try connection.query(
                "SELECT \(APIKeyRecord.selectColumns) FROM api_keys WHERE proxy_config_id = ? ORDER BY id",
                [.int(configID)]
            ).map(APIKeyRecord.init(row:))
        }
    }

    public func key(id: Int64) async throws -> APIKeyRecord? {
        try await perform { connection in
            try Self.fetchKey(id: id, connection)
        }
    }

    public func servingSnapshot(configID: Int64) async throws -> ServingSnapshot? {
        let stored = try await perform { connection -> (ProxyConfig, [EncryptedKeyRow])? in
            // One transaction: the keys belong to exactly this version of the config.
            try connection.transaction {
                guard let config = try Self.fetchConfig(id: configID, connection) else { return nil }
                let keys = try connection.query(
                    """
                    SELECT \(EncryptedKeyRow.selectColumns) FROM api_keys \
                    WHERE proxy_config_id = ? AND is_active = 1 AND is_invalid = 0 ORDER BY id
                    """,
                    [.int(configID)]
                ).map(EncryptedKeyRow.init(row:))
                return (config, keys)
            }
        }
        guard let (config, encrypted) = stored else { return nil }
        // A key that does not open (altered, moved from another row, another ENCRYPTION_KEY) is left out and
        // reported: it must not keep the config's other keys from serving.
        var keys: [UsableKey] = []
        var undecryptable: [Int64] = []
        keys.reserveCapacity(encrypted.count)
        for key in encrypted {
            if let secret = try? cipher.decrypt(key.ciphertext, for: key.binding) {
                keys.append(UsableKey(id: key.id, secret: secret))
            } else {
                undecryptable.append(key.id)
            }
        }
        return ServingSnapshot(config: config, keys: keys, undecryptableKeyIDs: undecryptable)
    }

    public func addKey(configID: Int64, secret: String, isActive: Bool) async throws -> APIKeyRecord {
        let normalized: String
        switch KeySecretPolicy.normalize(secret) {
        case .success(let value):
            normalized = value
        case .failure(let rejection):
            // StoreError has no "invalid input" case; callers validate first, this only guards the table.
            throw StoreError.conflict(KeySecretPolicy.message(for: rejection, raw: secret, position: nil))
        }
        let stored = try storedKey(normalized, configID: configID)
        let timestamp = now().millisecondsSince1970
        return try await perform(conflict: "this key is already in the pool") { connection in
            try connection.transaction {
                try Self.requireConfigExists(configID, connection)
                let result = try connection.execute(Self.insertKeySQL, Self.insertKeyBindings(stored, configID, isActive, timestamp))
                try Self.bumpVersions(configID: configID, connection)
                guard let record = try Self.fetchKey(id: result.lastInsertID, connection) else {
                    throw StoreError.corrupt("key \(result.lastInsertID) cannot be read back after writing it")
                }
                return record
            }
        }
    }

    public func addKeys(configID: Int64, secrets: [String]) async throws -> BatchImportResult {
        var failures: [String] = []
        var skippedInBatch = 0
        var seen = Set<String>()
        var candidates: [StoredKey] = []
        candidates.reserveCapacity(secrets.count)
        for (offset, raw) in secrets.enumerated() {
            switch KeySecretPolicy.normalize(raw) {
            case .failure(let rejection):
                failures.append(KeySecretPolicy.message(for: rejection, raw: raw, position: offset + 1))
            case .success(let secret):
                let stored = try storedKey(secret, configID: configID)
                if seen.insert(stored.fingerprint).inserted {
                    candidates.append(stored)
                } else {
                    skippedInBatch += 1
                }
            }
        }

        let timestamp = now().millisecondsSince1970
        let candidatesToInsert = candidates
        let (inserted, skippedInPool) = try await perform(conflict: "this key is already in the pool") { connection in
            try connection.transaction {
                try Self.requireConfigExists(configID, connection)
                // Known fingerprints first, then plain INSERTs: neither INSERT OR IGNORE nor MySQL's INSERT IGNORE,
                // which would also swallow foreign-key and truncation errors.
                let existing = Set(try connection.query(
                    "SELECT key_fingerprint FROM api_keys WHERE proxy_config_id = ?", [.int(configID)]
                ).map { try $0.string("key_fingerprint") })
                var inserted = 0
                for stored in candidatesToInsert where !existing.contains(stored.fingerprint) {
                    // Same SQL text every time: the driver prepares it once.
                    try connection.execute(Self.insertKeySQL, Self.insertKeyBindings(stored, configID, true, timestamp))
                    inserted += 1
                }
                if inserted > 0 { try Self.bumpVersions(configID: configID, connection) }
                return (inserted, candidatesToInsert.count - inserted)
            }
        }
        return BatchImportResult(
            successCount: inserted,
            failedCount: failures.count,
            skippedCount: skippedInBatch + skippedInPool,
            failedKeys: failures
        )
    }

    public func deleteKeys(configID: Int64) async throws -> Int {
        try await perform { connection in
            try connection.transaction {
                let deleted = try connection.execute("DELETE FROM api_keys WHERE proxy_config_id = ?", [.int(configID)]).changes
                if deleted > 0 { try Self.bumpVersions(configID: configID, connection) }
                return deleted
            }
        }
    }

    public func setKeyActive(id: Int64, isActive: Bool) async throws -> APIKeyRecord? {
        // Enabling is an admin's decision to trust the key again: it clears `is_invalid`; `last_error` stays
        // as a record of what happened.
        let sql = isActive
            ? "UPDATE api_keys SET is_active = 1, is_invalid = 0, updated_at = ? WHERE id = ?"
            : "UPDATE api_keys SET is_active = 0, updated_at = ? WHERE id = ?"
        return try await updateKey(id: id, sql: sql, binds: [])
    }

    public func deleteKey(id: Int64) async throws -> APIKeyRecord? {
        try await perform { connection in
            try connection.transaction {
                guard let record = try Self.fetchKey(id: id, connection) else { return nil }
                try connection.execute("DELETE FROM api_keys WHERE id = ?", [.int(id)])
                try Self.bumpVersions(configID: record.proxyConfigID, connection)
                return record
            }
        }
    }

    public func markKeyInvalid(id: Int64, reason: String) async throws -> APIKeyRecord? {
        try await updateKey(
            id: id,
            sql: "UPDATE api_keys SET is_invalid = 1, last_error = ?, updated_at = ? WHERE id = ?",
            binds: [.text(reason)]
        )
    }

    public func recordUsage(_ deltas: [KeyUsageDelta]) async throws {
        // One update per key, whatever the number of deltas for it.
        var merged: [Int64: KeyUsageDelta] = [:]
        for delta in deltas {
            merged[delta.keyID, default: KeyUsageDelta(keyID: delta.keyID)].merge(delta)
        }
        let updates = merged.values.sorted { $0.keyID < $1.keyID }  // a stable lock order across nodes
        guard !updates.isEmpty else { return }
        try await perform { connection in
            try connection.transaction {
                for delta in updates {
                    let lastUsed = SQLValue.optional(delta.lastUsedAt?.millisecondsSince1970)
                    // Unknown ids match no row and are ignored. last_used_at only moves forward; a NULL bind
                    // leaves it alone (a comparison with NULL is never true).
                    try connection.execute(
                        """
                        UPDATE api_keys SET request_count = request_count + ?, error_count = error_count + ?, \
                        input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, \
                        last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? THEN ? ELSE last_used_at END, \
                        last_error = COALESCE(?, last_error) WHERE id = ?
                        """,
                        [
                            .int(delta.requests), .int(delta.errors), .int(delta.inputTokens), .int(delta.outputTokens),
                            lastUsed, lastUsed, .optional(delta.lastError), .int(delta.keyID),
                        ]
                    )
                }
            }
        }
    }

    // MARK: Helpers

    /// Runs one `UPDATE ... updated_at = ? WHERE id = ?` on a key (`binds` come first), bumps its config's
    /// version and returns the updated record, or nil when the key does not exist.
    private func updateKey(id: Int64, sql: String, binds: [SQLValue]) async throws -> APIKeyRecord? {
        let timestamp = now().millisecondsSince1970
        return try await perform { connection in
            try connection.transaction {
                // Existence is checked by reading, not by the change count, which MySQL reports as 0 for an
                // UPDATE that rewrites identical values.
                guard let record = try Self.fetchKey(id: id, connection) else { return nil }
                try connection.execute(sql, binds + [.int(timestamp), .int(id)])
                try Self.bumpVersions(configID: record.proxyConfigID, connection)
                return try Self.fetchKey(id: id, connection)
            }
        }
    }

    private func storedKey(_ secret: String, configID: Int64) throws -> StoredKey {
        let fingerprint = cipher.fingerprint(secret)
        let ciphertext = try cipher.encrypt(secret, for: KeyRowBinding(configID: configID, fingerprint: fingerprint))
        return StoredKey(fingerprint: fingerprint, ciphertext: ciphertext, mask: SecretMasking.mask(secret))
    }

    static func fetchKey(id: Int64, _ connection: any SQLConnection) throws -> APIKeyRecord? {
        try connection.queryFirst("SELECT \(APIKeyRecord.selectColumns) FROM api_keys WHERE id = ?", [.int(id)])
            .map(APIKeyRecord.init(row:))
    }

    static func requireConfigExists(_ configID: Int64, _ connection: any SQLConnection) throws {
        guard try connection.queryFirst("SELECT id FROM proxy_configs WHERE id = ?", [.int(configID)]) != nil else {
            throw StoreError.notFound("no config with id \(configID)")
        }
    }

    static let insertKeySQL = """
        INSERT INTO api_keys (proxy_config_id, key_ciphertext, key_fingerprint, key_mask, is_active, is_invalid, \
        request_count, error_count, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, 0, 0, ?, ?)
        """

    static func insertKeyBindings(_ key: StoredKey, _ configID: Int64, _ isActive: Bool, _ timestamp: Int64) -> [SQLValue] {
        [.int(configID), .text(key.ciphertext), .text(key.fingerprint), .text(key.mask), .bool(isActive), .int(timestamp), .int(timestamp)]
    }
}
