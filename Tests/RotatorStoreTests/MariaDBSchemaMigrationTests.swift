import Foundation
import LocalTestServers
import MariaDBDriver
import RotatorSQL
import RotatorStore
import Testing

@Suite("Schema migration on MariaDB", .enabled(if: MariaDBTestServer.shouldRunTests, "MariaDB binaries not found"))
struct MariaDBSchemaMigrationTests {
    /// Several nodes starting at once on one schema: DDL commits implicitly in MySQL, so only the named lock
    /// (GET_LOCK) keeps them from applying a migration twice (a duplicate `schema_migrations` row would fail one).
    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        let server = try await MariaDBTestServer.shared()
        let name = "migrate_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try await server.makeDatabase(named: name)
        var databases: [MariaDBDatabase] = []
        for _ in 0..<4 {
            databases.append(try await MariaDBDatabase.connect(StoreBackend.mariaDBSettings(server, database: name), poolSize: 1))
        }
        let stores = databases.map { SQLConfigStore(database: $0, cipher: TestFixtures.cipher) }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in stores {
                group.addTask { try await store.migrate() }
            }
            try await group.waitForAll()
        }

        let applied = try await databases[0].withConnection { connection in
            try connection.query("SELECT version FROM schema_migrations ORDER BY version").map { try $0.int64("version") }
        }
        #expect(applied == [1, 2, 3])
        #expect(try await stores[1].globalVersion() == 0)
        // Every node sees one schema: a write through one is read through another.
        let config = try await stores[0].createConfig(TestFixtures.draft())
        #expect(try await stores[3].config(id: config.id) == config)
        // The lock was released: a later migrate does not wait.
        try await stores[2].migrate()

        for database in databases { try await database.close() }
        try await server.dropDatabase(named: name)
    }
}
