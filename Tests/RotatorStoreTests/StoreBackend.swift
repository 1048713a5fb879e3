import Foundation
import LocalTestServers
import MariaDBDriver
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

    static let all: [StoreBackend] = {
        guard MariaDBTestServer.shouldRunTests else {
            // Outside CI a machine without mariadbd runs the SQLite backends only; in CI the MariaDB cases
            // run regardless and fail if the server cannot start.
            print("RotatorStoreTests: skipping the MariaDB backend: \(MariaDBTestServer.unavailableReason ?? "")")
            return [.sqliteInMemory, .sqliteFile]
        }
        return [.sqliteInMemory, .sqliteFile, .mariaDB]
    }()

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

    /// A fresh database on the test process's shared MariaDB server; dropped afterwards.
    static let mariaDB = StoreBackend(
        name: "MariaDB",
        makeDatabase: {
            let server = try await MariaDBTestServer.shared()
            let name = "store_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
            try await server.makeDatabase(named: name)
            return try await MariaDBDatabase.connect(mariaDBSettings(server, database: name))
        },
        discard: { database in
            if let name = (database as? MariaDBDatabase)?.settings.database {
                try await MariaDBTestServer.shared().dropDatabase(named: name)
            }
        }
    )

    static func mariaDBSettings(_ server: MariaDBTestServer, database: String) -> MariaDBConnectionSettings {
        MariaDBConnectionSettings(
            host: server.host, port: server.port, user: server.user, password: server.password, database: database
        )
    }

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
