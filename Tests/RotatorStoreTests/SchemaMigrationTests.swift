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
        #expect(applied == [1, 2, 3])
        #expect(try await secondStore.globalVersion() == 0)
        // Both see one schema: a write through one is read through the other.
        let config = try await firstStore.createConfig(TestFixtures.draft())
        #expect(try await secondStore.config(id: config.id) == config)

        try await first.close()
        try await second.close()
    }
}
