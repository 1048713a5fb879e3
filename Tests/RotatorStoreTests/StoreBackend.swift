import Foundation
import RotatorSQL
import RotatorStore
import SQLiteDriver

/// A database the shared store suite runs against. The MariaDB driver adds itself to `all` (when a test
/// server is available) and the whole `ConfigStoreBehaviourTests` suite runs against it unchanged.
struct StoreBackend: Sendable, CustomStringConvertible {
    let name: String
    /// Returns a new, empty database (each test gets its own).
    let makeDatabase: @Sendable () async throws -> any SQLDatabase
    /// Called after the database is closed: removes files, drops the test schema.
    let discard: @Sendable (any SQLDatabase) async throws -> Void

    var description: String { name }

    static let all: [StoreBackend] = [.sqliteInMemory, .sqliteFile]

    static let sqliteInMemory = StoreBackend(
        name: "SQLite in memory",
        makeDatabase: { try await SQLiteDatabase.open(path: SQLiteDatabase.inMemory) },
        discard: { _ in }
    )

    static let sqliteFile = StoreBackend(
        name: "SQLite file",
        makeDatabase: { try await SQLiteDatabase.open(path: TemporaryDirectory.make().appending("rotator.db")) },
        discard: { database in
            if let path = (database as? SQLiteDatabase)?.path {
                TemporaryDirectory.remove(containing: path)
            }
        }
    )

    /// Opens a database, migrates a store over it, runs `body`, then closes and discards the database
    /// whether `body` succeeded or not.
    func withStore<T>(
        cipher: KeyCipher = TestFixtures.cipher,
        now: @escaping @Sendable () -> Date = { Date() },
        _ body: (SQLConfigStore, any SQLDatabase) async throws -> T
    ) async throws -> T {
        let database = try await makeDatabase()
        let result: Result<T, any Error>
        do {
            let store = SQLConfigStore(database: database, cipher: cipher, now: now)
            try await store.migrate()
            result = .success(try await body(store, database))
        } catch {
            result = .failure(error)
        }
        try await database.close()
        try await discard(database)
        return try result.get()
    }

    func withStore<T>(_ body: (SQLConfigStore) async throws -> T) async throws -> T {
        try await withStore { store, _ in try await body(store) }
    }
}

enum TemporaryDirectory {
    /// A new directory under the system's temporary directory, as a path ending in "/".
    static func make() -> String {
        let path = FileManager.default.temporaryDirectory.path + "/rotator-store-tests-\(UUID().uuidString)/"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func remove(containing path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.removeItem(atPath: directory)
    }
}
