import Foundation
import RotatorSQL
import RotatorStore
import SQLiteDriver
import Testing

@Suite("Schema migration")
struct SchemaMigrationTests {
    /// Two nodes starting at once on one SQLite file: one migrates, the other waits and finds it done.
    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        let path = TemporaryDirectory.make() + "shared.db"
        defer { TemporaryDirectory.remove(containing: path) }
        let first = try await SQLiteDatabase.open(path: path)
        let second = try await SQLiteDatabase.open(path: path)
        let firstStore = SQLConfigStore(database: first, cipher: TestFixtures.cipher)
        let secondStore = SQLConfigStore(database: second, cipher: TestFixtures.cipher)

        async let one: Void = firstStore.migrate()
        async let two: Void = secondStore.migrate()
        _ = try await (one, two)

        let applied = try await first.withConnection { connection in
            try connection.query("SELECT version FROM schema_migrations ORDER BY version").map { try $0.int64("version") }
        }
        #expect(applied == Array(1...SQLConfigStore.schemaVersion), "each migration once, in order")
        #expect(try await secondStore.globalVersion() == 0)
        // Both see one schema: a write through one is read through the other.
        let config = try await firstStore.createConfig(TestFixtures.draft())
        #expect(try await secondStore.config(id: config.id) == config)

        try await first.close()
        try await second.close()
    }

    /// A node stopped after an `ADD COLUMN` but before its `schema_migrations` row (MySQL commits DDL at once): the
    /// next start must add only what is missing and record the migration, not fail on a duplicate column.
    @Test(arguments: StoreBackend.all)
    func columnsAddedWithoutTheirBookkeepingDoNotStopTheNextStart(backend: StoreBackend) async throws {
        try await backend.withStore { store, database in
            // Every ADD COLUMN migration's DDL is there without its row; one of the last one's two columns is missing.
            try await database.withConnection { connection in
                _ = try connection.execute("DELETE FROM schema_migrations WHERE version IN (2, 4, 6)")
                _ = try connection.execute("ALTER TABLE api_keys DROP COLUMN output_tokens")
            }

            try await store.migrate()

            let applied = try await database.withConnection { connection in
                try connection.query("SELECT version FROM schema_migrations ORDER BY version").map { try $0.int64("version") }
            }
            #expect(applied == Array(1...SQLConfigStore.schemaVersion))
            let config = try await store.createConfig(TestFixtures.draft())
            let key = try await store.addKey(configID: config.id, secret: TestFixtures.secret(), isActive: true)
            #expect(try await store.keys(configID: config.id).map(\.id) == [key.id])
            let tokens = try await database.withConnection { connection in
                try connection.queryFirst("SELECT input_tokens, output_tokens FROM api_keys").map { try $0.int64("output_tokens") }
            }
            #expect(tokens == 0, "the missing column was added")
        }
    }
}
