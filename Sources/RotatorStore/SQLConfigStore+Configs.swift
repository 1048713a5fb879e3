import RotatorCore
import RotatorSQL

extension SQLConfigStore {
    public func listConfigs() async throws -> [ProxyConfig] {
        try await perform { connection in
            try connection.query("SELECT \(ProxyConfig.selectColumns) FROM proxy_configs ORDER BY id").map(ProxyConfig.init(row:))
        }
    }

    public func configVersions() async throws -> [Int64: Int64] {
        try await perform { connection in
            var versions: [Int64: Int64] = [:]
            for row in try connection.query("SELECT id, version FROM proxy_configs") {
                versions[try row.int64("id")] = try row.int64("version")
            }
            return versions
        }
    }

    public func config(id: Int64) async throws -> ProxyConfig? {
        try await perform { connection in
            try Self.fetchConfig(id: id, connection)
        }
    }

    public func createConfig(_ draft: ProxyConfigDraft) async throws -> ProxyConfig {
        let timestamp = now().millisecondsSince1970
        return try await perform(conflict: Self.slugConflict(draft.slug)) { connection in
            try connection.transaction {
                let result = try connection.execute(
                    """
                    INSERT INTO proxy_configs (name, slug, config_type, api_key_location, api_key_name, is_active, \
                    method, target_url, target_base_url, api_format, output_format, key_rpm, answer_overrides, \
                    retry_after_read_timeout, forward_billing_headers, model_map, default_model, default_max_tokens, created_at, \
                    updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                    """,
                    draft.bindings + [.int(timestamp), .int(timestamp)]
                )
                try Self.bumpGlobalVersion(connection)
                return try Self.requireConfig(id: result.lastInsertID, connection)
            }
        }
    }

    public func updateConfig(id: Int64, with draft: ProxyConfigDraft) async throws -> ProxyConfig? {
        let timestamp = now().millisecondsSince1970
        return try await perform(conflict: Self.slugConflict(draft.slug)) { connection in
            try connection.transaction {
                guard try Self.fetchConfig(id: id, connection) != nil else { return nil }
                try connection.execute(
                    """
                    UPDATE proxy_configs SET name = ?, slug = ?, config_type = ?, api_key_location = ?, \
                    api_key_name = ?, is_active = ?, method = ?, target_url = ?, target_base_url = ?, api_format = ?, \
                    output_format = ?, key_rpm = ?, answer_overrides = ?, retry_after_read_timeout = ?, \
                    forward_billing_headers = ?, model_map = ?, default_model = ?, default_max_tokens = ?, updated_at = ?, \
                    version = version + 1 WHERE id = ?
                    """,
                    draft.bindings + [.int(timestamp), .int(id)]
                )
                try Self.bumpGlobalVersion(connection)
                return try Self.requireConfig(id: id, connection)
            }
        }
    }

    public func setConfigActive(id: Int64, isActive: Bool) async throws -> ProxyConfig? {
        let timestamp = now().millisecondsSince1970
        return try await perform { connection in
            try connection.transaction {
                guard try Self.fetchConfig(id: id, connection) != nil else { return nil }
                try connection.execute(
                    "UPDATE proxy_configs SET is_active = ?, updated_at = ?, version = version + 1 WHERE id = ?",
                    [.bool(isActive), .int(timestamp), .int(id)]
                )
                try Self.bumpGlobalVersion(connection)
                return try Self.requireConfig(id: id, connection)
            }
        }
    }

    public func deleteConfig(id: Int64) async throws -> Bool {
        try await perform { connection in
            try connection.transaction {
                // Its keys go with it (ON DELETE CASCADE).
                let deleted = try connection.execute("DELETE FROM proxy_configs WHERE id = ?", [.int(id)]).changes > 0
                if deleted { try Self.bumpGlobalVersion(connection) }
                return deleted
            }
        }
    }

    // MARK: Helpers

    static func fetchConfig(id: Int64, _ connection: any SQLConnection) throws -> ProxyConfig? {
        try connection.queryFirst("SELECT \(ProxyConfig.selectColumns) FROM proxy_configs WHERE id = ?", [.int(id)])
            .map(ProxyConfig.init(row:))
    }

    /// For a row this transaction just wrote: missing means the driver misbehaved.
    static func requireConfig(id: Int64, _ connection: any SQLConnection) throws -> ProxyConfig {
        guard let config = try fetchConfig(id: id, connection) else {
            throw StoreError.corrupt("config \(id) cannot be read back after writing it")
        }
        return config
    }

    static func slugConflict(_ slug: String) -> String {
        "a config with slug '\(slug)' already exists"
    }
}
