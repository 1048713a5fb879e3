import RotatorSQL

/// One schema change, with its statements for each dialect (one statement per string: drivers prepare
/// one at a time). Applied once, in version order; `schema_migrations` records which ran.
///
/// Every step is idempotent (`IF NOT EXISTS`, `INSERT OR IGNORE`, columns added only where missing): MySQL commits
/// DDL implicitly, so a migration interrupted halfway there, or before its bookkeeping row, must be able to run again
/// from its first step.
struct Migration: Sendable {
    var version: Int64
    var summary: String
    var sqlite: [MigrationStep]
    var mysql: [MigrationStep]

    func steps(for dialect: SQLDialect) -> [MigrationStep] {
        switch dialect {
        case .sqlite: return sqlite
        case .mysql: return mysql
        }
    }
}

extension Migration {
    /// In ascending version order; append, never edit a migration that has shipped.
    static let all: [Migration] = [initialSchema, answerPolicy, encryptionKeyCheck, modelNames, auditLog, keyTokens, clientKeys, usageLedger, defaultMaxTokens]

    /// The bookkeeping table itself, created before any migration runs.
    static func bootstrap(for dialect: SQLDialect) -> String {
        switch dialect {
        case .sqlite:
            return "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
        case .mysql:
            return """
                CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL PRIMARY KEY, \
                applied_at BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
                """
        }
    }

    // Timestamps are unix milliseconds in 64-bit integers; booleans are 0/1 integers. No separate index on
    // api_keys.proxy_config_id: the UNIQUE (proxy_config_id, key_fingerprint) index leads with it and serves
    // lookups by config, the cascade and (in InnoDB) the foreign key, so a second index would only slow inserts.
    // AUTOINCREMENT keeps SQLite from reusing a deleted row's id, which caches and Redis pools are keyed by.
    static let initialSchema = Migration(
        version: 1,
        summary: "configs, keys, store version",
        sqlite: [
            """
            CREATE TABLE IF NOT EXISTS proxy_configs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                slug TEXT NOT NULL UNIQUE,
                config_type TEXT NOT NULL,
                api_key_location TEXT NOT NULL,
                api_key_name TEXT NOT NULL,
                is_active INTEGER NOT NULL DEFAULT 1,
                method TEXT NULL,
                target_url TEXT NULL,
                target_base_url TEXT NULL,
                api_format TEXT NOT NULL,
                output_format TEXT NULL,
                key_rpm INTEGER NOT NULL DEFAULT 0,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                version INTEGER NOT NULL DEFAULT 1
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS api_keys (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                proxy_config_id INTEGER NOT NULL REFERENCES proxy_configs (id) ON DELETE CASCADE,
                key_ciphertext TEXT NOT NULL,
                key_fingerprint TEXT NOT NULL,
                key_mask TEXT NOT NULL,
                is_active INTEGER NOT NULL DEFAULT 1,
                is_invalid INTEGER NOT NULL DEFAULT 0,
                request_count INTEGER NOT NULL DEFAULT 0,
                error_count INTEGER NOT NULL DEFAULT 0,
                last_used_at INTEGER NULL,
                last_error TEXT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                UNIQUE (proxy_config_id, key_fingerprint)
            )
            """,
            "CREATE TABLE IF NOT EXISTS store_meta (id INTEGER PRIMARY KEY CHECK (id = 1), global_version INTEGER NOT NULL)",
            "INSERT OR IGNORE INTO store_meta (id, global_version) VALUES (1, 0)",
        ],
        // utf8mb4_bin compares like SQLite (byte-wise, case-sensitive), so a slug unique here is unique there.
        // VARCHAR lengths bound the indexed columns (InnoDB index prefixes are limited to 3072 bytes).
        mysql: [
            """
            CREATE TABLE IF NOT EXISTS proxy_configs (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                slug VARCHAR(191) NOT NULL,
                config_type VARCHAR(32) NOT NULL,
                api_key_location VARCHAR(32) NOT NULL,
                api_key_name VARCHAR(255) NOT NULL,
                is_active TINYINT NOT NULL DEFAULT 1,
                method VARCHAR(32) NULL,
                target_url TEXT NULL,
                target_base_url TEXT NULL,
                api_format VARCHAR(32) NOT NULL,
                output_format VARCHAR(64) NULL,
                key_rpm INT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                version BIGINT NOT NULL DEFAULT 1,
                UNIQUE KEY uq_proxy_configs_slug (slug)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            """
            CREATE TABLE IF NOT EXISTS api_keys (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                proxy_config_id BIGINT NOT NULL,
                key_ciphertext TEXT NOT NULL,
                key_fingerprint CHAR(64) NOT NULL,
                key_mask VARCHAR(64) NOT NULL,
                is_active TINYINT NOT NULL DEFAULT 1,
                is_invalid TINYINT NOT NULL DEFAULT 0,
                request_count BIGINT NOT NULL DEFAULT 0,
                error_count BIGINT NOT NULL DEFAULT 0,
                last_used_at BIGINT NULL,
                last_error TEXT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                UNIQUE KEY uq_api_keys_config_fingerprint (proxy_config_id, key_fingerprint),
                CONSTRAINT fk_api_keys_proxy_config FOREIGN KEY (proxy_config_id)
                    REFERENCES proxy_configs (id) ON DELETE CASCADE
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            """
            CREATE TABLE IF NOT EXISTS store_meta (
                id TINYINT NOT NULL PRIMARY KEY,
                global_version BIGINT NOT NULL,
                CONSTRAINT ck_store_meta_single_row CHECK (id = 1)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            "INSERT IGNORE INTO store_meta (id, global_version) VALUES (1, 0)",
        ]
    )

    /// How a config's upstream answers are judged (overrides as JSON, NULL for none), whether a request the upstream
    /// may have processed is retried after a read timeout, and whether billing-selection headers are forwarded.
    /// SQLite runs a migration in one transaction; on MySQL/MariaDB it is one statement.
    static let answerPolicy = Migration(
        version: 2,
        summary: "answer overrides, retry after read timeout, billing headers",
        sqlite: [
            .addColumns(table: "proxy_configs", [
                .init("answer_overrides", "TEXT NULL"),
                .init("retry_after_read_timeout", "INTEGER NOT NULL DEFAULT 0"),
                .init("forward_billing_headers", "INTEGER NOT NULL DEFAULT 0"),
            ]),
        ],
        mysql: [
            // One statement, so it applies whole or not at all (MySQL 8 DDL is atomic per statement); plain
            // `ADD COLUMN`, which MySQL 8 accepts as well as MariaDB (`IF NOT EXISTS` is MariaDB's only).
            .addColumns(table: "proxy_configs", [
                .init("answer_overrides", "TEXT NULL"),
                .init("retry_after_read_timeout", "TINYINT NOT NULL DEFAULT 0"),
                .init("forward_billing_headers", "TINYINT NOT NULL DEFAULT 0"),
            ]),
        ]
    )

    /// Where a store remembers which master key encrypted it (`KeyCipher.keyCheck`). Rows in the old `v1:`
    /// format are re-encrypted bound to their row by `SQLConfigStore.migrate`, which needs the master key and
    /// so cannot be SQL.
    static let encryptionKeyCheck = Migration(
        version: 3,
        summary: "encryption key check",
        sqlite: [
            "CREATE TABLE IF NOT EXISTS store_key_check (id INTEGER PRIMARY KEY CHECK (id = 1), check_value TEXT NOT NULL)",
        ],
        mysql: [
            """
            CREATE TABLE IF NOT EXISTS store_key_check (
                id TINYINT NOT NULL PRIMARY KEY,
                check_value VARCHAR(255) NOT NULL,
                CONSTRAINT ck_store_key_check_single_row CHECK (id = 1)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
        ]
    )

    /// Per-config model names for format conversion. SQLite's DDL is transactional (the migrator's transaction rolls a
    /// half-run back); on MySQL/MariaDB it is one atomic statement.
    static let modelNames = Migration(
        version: 4,
        summary: "model map and default model per config",
        sqlite: [
            .addColumns(table: "proxy_configs", [.init("model_map", "TEXT NULL"), .init("default_model", "TEXT NULL")]),
        ],
        mysql: [
            // One statement, plain `ADD COLUMN` (MySQL 8 and MariaDB), as in migration 2.
            .addColumns(table: "proxy_configs", [.init("model_map", "TEXT NULL"), .init("default_model", "VARCHAR(255) NULL")]),
        ]
    )

    /// Who did what to which config or key, when, from where; `before`/`after` are JSON without secrets. Rows are
    /// only ever added. Paging walks `id` downwards, which the primary key serves.
    static let auditLog = Migration(
        version: 5,
        summary: "audit log of admin actions",
        sqlite: [
            """
            CREATE TABLE IF NOT EXISTS audit_log (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at INTEGER NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                client_address TEXT NOT NULL,
                before_json TEXT NULL,
                after_json TEXT NULL
            )
            """,
        ],
        mysql: [
            """
            CREATE TABLE IF NOT EXISTS audit_log (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                at BIGINT NOT NULL,
                actor VARCHAR(255) NOT NULL,
                action VARCHAR(64) NOT NULL,
                target VARCHAR(255) NOT NULL,
                client_address VARCHAR(64) NOT NULL,
                before_json MEDIUMTEXT NULL,
                after_json MEDIUMTEXT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
        ]
    )

    /// Tokens per key, as read from the answers the proxy converts (streams included), added by the usage flush.
    static let keyTokens = Migration(
        version: 6,
        summary: "input and output tokens per key",
        sqlite: [
            .addColumns(table: "api_keys", [.init("input_tokens", "INTEGER NOT NULL DEFAULT 0"), .init("output_tokens", "INTEGER NOT NULL DEFAULT 0")]),
        ],
        mysql: [
            // One statement, plain `ADD COLUMN` (MySQL 8 and MariaDB), as in migration 2.
            .addColumns(table: "api_keys", [.init("input_tokens", "BIGINT NOT NULL DEFAULT 0"), .init("output_tokens", "BIGINT NOT NULL DEFAULT 0")]),
        ]
    )

    /// Client keys: the operator's per-team keys, stored as the keyed hash of their secret (never the secret) and a
    /// masked hint. `live_name` is the name while the key is not revoked and NULL after: a unique index on it keeps names
    /// unique among live keys in both dialects (MySQL has no partial index), while revoked rows stay as tombstones so
    /// their secrets are refused as revoked. `store_meta.client_keys_version` moves with every client-key write, so a
    /// node can tell it missed one.
    static let clientKeys = Migration(
        version: 7,
        summary: "client keys",
        sqlite: [
            """
            CREATE TABLE IF NOT EXISTS client_keys (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                live_name TEXT NULL UNIQUE,
                note TEXT NULL,
                enabled INTEGER NOT NULL DEFAULT 1,
                expires_at INTEGER NULL,
                allowed_configs TEXT NULL,
                allowed_models TEXT NULL,
                rpm INTEGER NULL,
                tpm INTEGER NULL,
                max_concurrent INTEGER NULL,
                daily_requests INTEGER NULL,
                monthly_requests INTEGER NULL,
                daily_tokens INTEGER NULL,
                monthly_tokens INTEGER NULL,
                secret_hash TEXT NOT NULL UNIQUE,
                secret_hint TEXT NOT NULL,
                previous_secret_hash TEXT NULL,
                previous_secret_valid_until INTEGER NULL,
                revoked_at INTEGER NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )
            """,
            .addColumns(table: "store_meta", [.init("client_keys_version", "INTEGER NOT NULL DEFAULT 0")]),
        ],
        mysql: [
            """
            CREATE TABLE IF NOT EXISTS client_keys (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                name VARCHAR(100) NOT NULL,
                live_name VARCHAR(100) NULL,
                note TEXT NULL,
                enabled TINYINT NOT NULL DEFAULT 1,
                expires_at BIGINT NULL,
                allowed_configs TEXT NULL,
                allowed_models TEXT NULL,
                rpm BIGINT NULL,
                tpm BIGINT NULL,
                max_concurrent BIGINT NULL,
                daily_requests BIGINT NULL,
                monthly_requests BIGINT NULL,
                daily_tokens BIGINT NULL,
                monthly_tokens BIGINT NULL,
                secret_hash CHAR(64) NOT NULL,
                secret_hint VARCHAR(64) NOT NULL,
                previous_secret_hash CHAR(64) NULL,
                previous_secret_valid_until BIGINT NULL,
                revoked_at BIGINT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                UNIQUE KEY uq_client_keys_live_name (live_name),
                UNIQUE KEY uq_client_keys_secret_hash (secret_hash)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            .addColumns(table: "store_meta", [.init("client_keys_version", "BIGINT NOT NULL DEFAULT 0")]),
        ]
    )

    /// The usage ledger: one row per UTC day (days since 1970), client key (0: an operator key), config, upstream key
    /// (0: none reached) and model ('': none), whose counters each usage flush adds to (an upsert per row and flush).
    static let usageLedger = Migration(
        version: 8,
        summary: "usage ledger per day, client key, config, key and model",
        sqlite: [
            """
            CREATE TABLE IF NOT EXISTS usage_ledger (
                day INTEGER NOT NULL,
                client_key_id INTEGER NOT NULL DEFAULT 0,
                config_id INTEGER NOT NULL,
                key_id INTEGER NOT NULL DEFAULT 0,
                model TEXT NOT NULL DEFAULT '',
                requests INTEGER NOT NULL DEFAULT 0,
                errors_rate_limited INTEGER NOT NULL DEFAULT 0,
                errors_refused INTEGER NOT NULL DEFAULT 0,
                errors_client_error INTEGER NOT NULL DEFAULT 0,
                errors_timeout INTEGER NOT NULL DEFAULT 0,
                errors_upstream INTEGER NOT NULL DEFAULT 0,
                attempts INTEGER NOT NULL DEFAULT 0,
                input_tokens INTEGER NOT NULL DEFAULT 0,
                output_tokens INTEGER NOT NULL DEFAULT 0,
                cached_tokens INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (day, client_key_id, config_id, key_id, model)
            )
            """,
        ],
        mysql: [
            """
            CREATE TABLE IF NOT EXISTS usage_ledger (
                day INT NOT NULL,
                client_key_id BIGINT NOT NULL DEFAULT 0,
                config_id BIGINT NOT NULL,
                key_id BIGINT NOT NULL DEFAULT 0,
                model VARCHAR(200) NOT NULL DEFAULT '',
                requests BIGINT NOT NULL DEFAULT 0,
                errors_rate_limited BIGINT NOT NULL DEFAULT 0,
                errors_refused BIGINT NOT NULL DEFAULT 0,
                errors_client_error BIGINT NOT NULL DEFAULT 0,
                errors_timeout BIGINT NOT NULL DEFAULT 0,
                errors_upstream BIGINT NOT NULL DEFAULT 0,
                attempts BIGINT NOT NULL DEFAULT 0,
                input_tokens BIGINT NOT NULL DEFAULT 0,
                output_tokens BIGINT NOT NULL DEFAULT 0,
                cached_tokens BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (day, client_key_id, config_id, key_id, model)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
        ]
    )

    /// A config's own default for the output tokens a client key's request reserves (NULL: the node's setting).
    static let defaultMaxTokens = Migration(
        version: 9,
        summary: "per-config default max tokens for client keys' reservations",
        sqlite: [.addColumns(table: "proxy_configs", [.init("default_max_tokens", "INTEGER NULL")])],
        mysql: [.addColumns(table: "proxy_configs", [.init("default_max_tokens", "BIGINT NULL")])]
    )
}
