import ClientAccess
import RotatorSQL
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Client keys: rows hold the keyed hash of the secret and its hint, never the secret. A deleted key stays as a
/// tombstone (`revoked_at` set, `live_name` NULL) so that its secret is refused as revoked, not as unknown.
///
/// Every write bumps `store_meta.client_keys_version` and the global version in its transaction: nodes compare the
/// first to tell they missed a change, and the global one wakes their periodic check.
extension SQLConfigStore {
    static let clientKeyColumns = """
        id, name, note, enabled, expires_at, allowed_configs, allowed_models, rpm, tpm, max_concurrent, daily_requests, \
        monthly_requests, daily_tokens, monthly_tokens, secret_hash, secret_hint, previous_secret_hash, \
        previous_secret_valid_until, revoked_at, created_at, updated_at
        """

    public func clientKeys(page: Int, perPage: Int, search: String?) async throws -> ClientKeyPage {
        let perPage = max(1, min(perPage, 500))
        let offset = Int64(max(0, page - 1)) * Int64(perPage)
        var filter = "revoked_at IS NULL"
        var binds: [SQLValue] = []
        if let search, !search.isEmpty {
            // Case-insensitive in both dialects (utf8mb4_bin compares bytes); `!` escapes the pattern's own wildcards.
            let escaped = search.lowercased().replacingOccurrences(of: "!", with: "!!").replacingOccurrences(of: "%", with: "!%")
                .replacingOccurrences(of: "_", with: "!_")
            filter += " AND (LOWER(name) LIKE ? ESCAPE '!' OR LOWER(COALESCE(note, '')) LIKE ? ESCAPE '!')"
            binds = [.text("%\(escaped)%"), .text("%\(escaped)%")]
        }
        return try await perform { [filter, binds] connection in
            try connection.transaction {
                let total = try connection.queryFirst("SELECT COUNT(*) AS total FROM client_keys WHERE \(filter)", binds)?.int64("total") ?? 0
                let keys = try connection.query(
                    "SELECT \(Self.clientKeyColumns) FROM client_keys WHERE \(filter) ORDER BY id LIMIT ? OFFSET ?",
                    binds + [.int(Int64(perPage)), .int(offset)]
                ).map(Self.clientKey(row:))
                return ClientKeyPage(keys: keys, total: Int(total))
            }
        }
    }

    public func clientKey(id: Int64) async throws -> ClientKey? {
        try await perform { connection in
            try Self.fetchClientKey(id: id, connection)
        }
    }

    public func allClientKeys() async throws -> [ClientKey] {
        try await perform { connection in
            try connection.query("SELECT \(Self.clientKeyColumns) FROM client_keys ORDER BY id").map(Self.clientKey(row:))
        }
    }

    public func clientKeysVersion() async throws -> Int64 {
        try await perform { connection in
            try connection.queryFirst("SELECT client_keys_version FROM store_meta WHERE id = 1")?.int64("client_keys_version") ?? 0
        }
    }

    public func createClientKey(_ draft: ClientKeyDraft, hasher: ClientKeyHasher) async throws -> IssuedClientKey {
        let secret = ClientKeySecret.generate()
        let hash = hasher.hash(secret).hex
        let timestamp = now().millisecondsSince1970
        let binds = try Self.clientKeyBindings(draft)
        let key = try await perform(conflict: Self.nameConflict(draft.name)) { connection in
            try connection.transaction {
                let result = try connection.execute(
                    """
                    INSERT INTO client_keys (name, live_name, note, enabled, expires_at, allowed_configs, allowed_models, rpm, tpm, \
                    max_concurrent, daily_requests, monthly_requests, daily_tokens, monthly_tokens, secret_hash, secret_hint, \
                    created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [.text(draft.name), .text(draft.name)] + binds + [.text(hash), .text(ClientKeySecret.hint(secret)), .int(timestamp), .int(timestamp)]
                )
                try Self.bumpClientKeysVersion(connection)
                return try Self.requireClientKey(id: result.lastInsertID, connection)
            }
        }
        return IssuedClientKey(key: key, secret: secret)
    }

    /// nil when no live key has this id; `StoreError.conflict` when another live key has the name.
    public func updateClientKey(id: Int64, with draft: ClientKeyDraft) async throws -> ClientKey? {
        let timestamp = now().millisecondsSince1970
        let binds = try Self.clientKeyBindings(draft)
        return try await perform(conflict: Self.nameConflict(draft.name)) { connection in
            try connection.transaction {
                guard try Self.fetchClientKey(id: id, connection)?.revokedAt == nil else { return nil }
                try connection.execute(
                    """
                    UPDATE client_keys SET name = ?, live_name = ?, note = ?, enabled = ?, expires_at = ?, allowed_configs = ?, \
                    allowed_models = ?, rpm = ?, tpm = ?, max_concurrent = ?, daily_requests = ?, monthly_requests = ?, \
                    daily_tokens = ?, monthly_tokens = ?, updated_at = ? WHERE id = ?
                    """,
                    [.text(draft.name), .text(draft.name)] + binds + [.int(timestamp), .int(id)]
                )
                try Self.bumpClientKeysVersion(connection)
                return try Self.requireClientKey(id: id, connection)
            }
        }
    }

    /// Revokes a live key: its row stays as a tombstone, its name is free again. Returns the key as it was before;
    /// nil when no live key has this id.
    public func revokeClientKey(id: Int64) async throws -> ClientKey? {
        let timestamp = now().millisecondsSince1970
        return try await perform { connection in
            try connection.transaction {
                guard let key = try Self.fetchClientKey(id: id, connection), key.revokedAt == nil else { return nil }
                try connection.execute(
                    "UPDATE client_keys SET revoked_at = ?, live_name = NULL, updated_at = ? WHERE id = ?", [.int(timestamp), .int(timestamp), .int(id)]
                )
                try Self.bumpClientKeysVersion(connection)
                return key
            }
        }
    }

    /// A new secret for a live key. The old one stays accepted for `graceSeconds` (0: it stops now); a secret rotated
    /// out earlier is forgotten. nil when no live key has this id.
    public func rotateClientKey(id: Int64, graceSeconds: Int64, hasher: ClientKeyHasher) async throws -> IssuedClientKey? {
        let secret = ClientKeySecret.generate()
        let hash = hasher.hash(secret).hex
        let moment = now()
        let timestamp = moment.millisecondsSince1970
        // Rounded down: with no grace the old secret must already be past its end when this returns, not half a ms later.
        let validUntil = Int64((moment.timeIntervalSince1970 * 1000).rounded(.down)) + max(0, graceSeconds) * 1000
        let key = try await perform { connection in
            try connection.transaction { () -> ClientKey? in
                guard let key = try Self.fetchClientKey(id: id, connection), key.revokedAt == nil else { return nil }
                try connection.execute(
                    """
                    UPDATE client_keys SET previous_secret_hash = secret_hash, previous_secret_valid_until = ?, secret_hash = ?, \
                    secret_hint = ?, updated_at = ? WHERE id = ?
                    """,
                    [.int(validUntil), .text(hash), .text(ClientKeySecret.hint(secret)), .int(timestamp), .int(id)]
                )
                try Self.bumpClientKeysVersion(connection)
                return try Self.requireClientKey(id: id, connection)
            }
        }
        return key.map { IssuedClientKey(key: $0, secret: secret) }
    }

    // MARK: Helpers

    static func bumpClientKeysVersion(_ connection: any SQLConnection) throws {
        try connection.execute(
            "UPDATE store_meta SET global_version = global_version + 1, client_keys_version = client_keys_version + 1 WHERE id = 1"
        )
    }

    static func fetchClientKey(id: Int64, _ connection: any SQLConnection) throws -> ClientKey? {
        try connection.queryFirst("SELECT \(clientKeyColumns) FROM client_keys WHERE id = ?", [.int(id)]).map(clientKey(row:))
    }

    static func requireClientKey(id: Int64, _ connection: any SQLConnection) throws -> ClientKey {
        guard let key = try fetchClientKey(id: id, connection) else {
            throw StoreError.corrupt("client key \(id) cannot be read back after writing it")
        }
        return key
    }

    static func nameConflict(_ name: String) -> String {
        "a client key named '\(name.prefix(100))' already exists"
    }

    /// note … monthly_tokens, in the order of the INSERT and UPDATE above.
    static func clientKeyBindings(_ draft: ClientKeyDraft) throws -> [SQLValue] {
        let limits = draft.limits
        return [
            .optional(draft.note), .bool(draft.enabled), .optional(draft.expiresAt?.millisecondsSince1970),
            .optional(try draft.allowedConfigs.map(jsonText)), .optional(try draft.allowedModels.map { try jsonText($0.map(\.description)) }),
            .optional(limits.rpm), .optional(limits.tpm), .optional(limits.maxConcurrent), .optional(limits.dailyRequests),
            .optional(limits.monthlyRequests), .optional(limits.dailyTokens), .optional(limits.monthlyTokens),
        ]
    }

    private static func jsonText(_ list: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(list), as: UTF8.self)
    }

    static func clientKey(row: SQLRow) throws -> ClientKey {
        let id = try row.int64("id")
        func list(_ column: String) throws -> [String]? {
            guard let text = try row.optionalString(column) else { return nil }
            guard let list = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
                throw StoreError.corrupt("client key \(id) has an unreadable \(column)")
            }
            return list
        }
        func hash(_ column: String) throws -> ClientKeyHash? {
            guard let text = try row.optionalString(column) else { return nil }
            guard let hash = ClientKeyHash(hex: text) else { throw StoreError.corrupt("client key \(id) has an unreadable \(column)") }
            return hash
        }
        func date(_ column: String) throws -> Date? {
            try row.optionalInt64(column).map(Date.init(millisecondsSince1970:))
        }
        let models = try list("allowed_models")?.map { text in
            do {
                return try ModelPattern(parsing: text)
            } catch {
                throw StoreError.corrupt("client key \(id) has an unreadable allowed_models entry")
            }
        }
        guard let secretHash = try hash("secret_hash") else { throw StoreError.corrupt("client key \(id) has no secret_hash") }
        return ClientKey(
            id: id, name: try row.string("name"), note: try row.optionalString("note"), enabled: try row.bool("enabled"),
            expiresAt: try date("expires_at"), allowedConfigs: try list("allowed_configs"), allowedModels: models,
            limits: ClientKeyLimits(
                rpm: try row.optionalInt64("rpm"), tpm: try row.optionalInt64("tpm"), maxConcurrent: try row.optionalInt64("max_concurrent"),
                dailyRequests: try row.optionalInt64("daily_requests"), monthlyRequests: try row.optionalInt64("monthly_requests"),
                dailyTokens: try row.optionalInt64("daily_tokens"), monthlyTokens: try row.optionalInt64("monthly_tokens")
            ),
            secretHash: secretHash, secretHint: try row.string("secret_hint"), previousSecretHash: try hash("previous_secret_hash"),
            previousSecretValidUntil: try date("previous_secret_valid_until"), revokedAt: try date("revoked_at"),
            createdAt: try date("created_at") ?? Date(timeIntervalSince1970: 0), updatedAt: try date("updated_at") ?? Date(timeIntervalSince1970: 0)
        )
    }
}
