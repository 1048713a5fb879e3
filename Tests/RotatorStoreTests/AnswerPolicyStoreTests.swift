import Foundation
import RotatorCore
import RotatorSQL
import RotatorStore
import Testing

/// The answer policy of a config (overrides, read-timeout retries, billing headers) on every backend, and the
/// migration that added it to stores made before it.
@Suite("Answer policy in the store")
struct AnswerPolicyStoreTests {
    static let overrides = [
        AnswerOverride(status: 400, bodyContains: "token expired", blame: .keyInvalid),
        AnswerOverride(status: nil, bodyContains: "quota_used_up", blame: .keyExhausted),
        AnswerOverride(status: 418, bodyContains: nil, blame: .upstream),
    ]

    @Test(arguments: StoreBackend.all)
    func roundTrips(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            var draft = TestFixtures.draft()
            draft.answerOverrides = Self.overrides
            draft.retryAfterReadTimeout = true
            draft.forwardBillingHeaders = true
            let created = try await store.createConfig(draft)
            #expect(created.answerOverrides == Self.overrides)
            #expect(created.retryAfterReadTimeout)
            #expect(created.forwardBillingHeaders)
            #expect(try await store.config(id: created.id) == created)

            let cleared = try #require(try await store.updateConfig(id: created.id, with: TestFixtures.draft()))
            #expect(cleared.answerOverrides.isEmpty)
            #expect(!cleared.retryAfterReadTimeout)
            #expect(!cleared.forwardBillingHeaders)
        }
    }

    /// A store made before the answer policy existed: its configs read with the defaults after the migration.
    @Test(arguments: StoreBackend.all)
    func migratesStoresMadeBeforeIt(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, database in
            try await database.withConnection { connection in
                for column in ["answer_overrides", "retry_after_read_timeout", "forward_billing_headers"] {
                    try connection.execute("ALTER TABLE proxy_configs DROP COLUMN \(column)")
                }
                try connection.execute("DELETE FROM schema_migrations WHERE version = 2")
                try connection.execute(
                    """
                    INSERT INTO proxy_configs (name, slug, config_type, api_key_location, api_key_name, is_active, api_format, \
                    key_rpm, created_at, updated_at, version) VALUES ('Old', 'old', 'llm', 'header', 'Authorization', 1, \
                    'openai_compatible', 0, 1700000000000, 1700000000000, 1)
                    """
                )
            }
            try await store.migrate()
            let old = try #require(try await store.listConfigs().first { $0.slug == "old" })
            #expect(old.answerOverrides.isEmpty)
            #expect(!old.retryAfterReadTimeout)
            #expect(!old.forwardBillingHeaders)
            let applied = try await database.withConnection { connection in
                try connection.query("SELECT version FROM schema_migrations ORDER BY version").map { try $0.int64("version") }
            }
            #expect(applied.contains(2))
        }
    }
}
