import RotatorCore
import RotatorSQL
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The config store over any SQL driver: every query is written once, with `?` placeholders; the dialect
/// matters only in the migrations.
///
/// Every write to a config or its keys bumps that config's `version` and `store_meta.global_version` in the
/// same transaction, so a cache can tell it missed an update. Usage counters (`recordUsage`) are statistics,
/// not configuration, and bump nothing: otherwise every usage flush would look like an invalidation.
///
/// Cryptography runs before a connection is taken, so the driver's lock is held only for SQL.
public final class SQLConfigStore: ConfigStore {
    /// The newest schema version this build migrates to (one migration per version, applied in order).
    public static var schemaVersion: Int64 { Migration.all.map(\.version).max() ?? 0 }

    let database: any SQLDatabase
    let cipher: KeyCipher
    let now: @Sendable () -> Date

    /// - Parameter now: the clock for `created_at`, `updated_at` (tests may pin it).
    public init(database: any SQLDatabase, cipher: KeyCipher, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.cipher = cipher
        self.now = now
    }

    public func migrate() async throws {
        let dialect = database.dialect
        let timestamp = now().millisecondsSince1970
        try await perform { connection in
            try SchemaMigrator.migrate(connection, dialect: dialect, nowMilliseconds: timestamp)
        }
        try await verifyEncryptionKey()
        try await rebindLegacyCiphertexts()
    }

    public func ping() async throws {
        try await perform { connection in
            _ = try connection.query("SELECT 1")
        }
    }

    public func globalVersion() async throws -> Int64 {
        try await perform { connection in
            guard let row = try connection.queryFirst("SELECT global_version FROM store_meta WHERE id = 1") else {
                throw StoreError.corrupt("store_meta has no row: run migrations first")
            }
            return try row.int64("global_version")
        }
    }

    // MARK: Shared by the operations

    /// Runs `body` on a connection and turns driver errors into `StoreError`s whose messages are safe to show.
    /// - Parameter conflict: the message for a unique-constraint violation in this operation.
    func perform<T: Sendable>(
        conflict: String = "this change conflicts with existing data",
        _ body: @escaping @Sendable (any SQLConnection) throws -> T
    ) async throws -> T {
        do {
            return try await database.withConnection(body)
        } catch let error as StoreError {
            throw error
        } catch let error as SQLError {
            switch error.category {
            case .uniqueViolation:
                throw StoreError.conflict(conflict)
            case .decoding:
                throw StoreError.corrupt("stored data cannot be read: \(error.message)")
            default:
                // Driver messages never hold bound values (a driver contract), so they may be shown.
                throw StoreError.unavailable("database error: \(error.message)")
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw StoreError.unavailable("database error: \(String(describing: type(of: error)))")
        }
    }

    /// Marks a change to `configID` (or to one of its keys) for caches.
    static func bumpVersions(configID: Int64, _ connection: any SQLConnection) throws {
        try connection.execute("UPDATE proxy_configs SET version = version + 1 WHERE id = ?", [.int(configID)])
        try bumpGlobalVersion(connection)
    }

    static func bumpGlobalVersion(_ connection: any SQLConnection) throws {
        try connection.execute("UPDATE store_meta SET global_version = global_version + 1 WHERE id = 1")
    }
}
