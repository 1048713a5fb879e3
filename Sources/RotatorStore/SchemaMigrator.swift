import RotatorSQL

/// Applies the migrations a database has not seen yet.
enum SchemaMigrator {
    static func migrate(_ connection: any SQLConnection, dialect: SQLDialect, nowMilliseconds: Int64) throws {
        assert(zip(Migration.all, Migration.all.dropFirst()).allSatisfy { $0.version < $1.version },
               "migrations must be listed in ascending version order")
        try connection.execute(Migration.bootstrap(for: dialect))
        try withMigrationLock(connection, dialect: dialect) {
            // SQLite: the transaction's write lock (BEGIN IMMEDIATE) makes a second process wait here and then
            // find the migrations applied, so reading `applied` inside it is what makes migrate() race-free.
            try connection.transaction {
                let applied = Set(try connection.query("SELECT version FROM schema_migrations").map { try $0.int64("version") })
                for migration in Migration.all where !applied.contains(migration.version) {
                    for step in migration.steps(for: dialect) {
                        let existing = try step.table.map { try columns(of: $0, connection, dialect: dialect) } ?? []
                        for statement in step.statements(for: dialect, existingColumns: existing) {
                            try connection.execute(statement)
                        }
                    }
                    try connection.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        [.int(migration.version), .int(nowMilliseconds)]
                    )
                }
            }
        }
    }

    /// The table's column names, lowercased.
    private static func columns(of table: String, _ connection: any SQLConnection, dialect: SQLDialect) throws -> Set<String> {
        let rows: [SQLRow]
        switch dialect {
        case .sqlite:
            rows = try connection.query("SELECT name FROM pragma_table_info(?)", [.text(table)])
        case .mysql:
            rows = try connection.query(
                "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", [.text(table)]
            )
        }
        return Set(try rows.map { try $0.string("name").lowercased() })
    }

    /// Serializes migrators across processes where the transaction alone does not.
    private static func withMigrationLock(_ connection: any SQLConnection, dialect: SQLDialect, _ body: () throws -> Void) throws {
        switch dialect {
        case .sqlite:
            try body()
        case .mysql:
            // MySQL commits DDL implicitly, so the transaction does not keep two nodes from migrating at once: a
            // named lock does. It belongs to this connection (released if the connection drops) and is named
            // after the schema, so stores in other databases on the same server do not wait for each other.
            try acquireMySQLLock(connection)
            defer { _ = try? connection.query("SELECT RELEASE_LOCK(\(mysqlLockName)) AS released") }
            try body()
        }
    }

    /// Lock names are limited to 64 characters in MySQL 8; truncation only ever makes two schemas share a lock.
    private static let mysqlLockName = "LEFT(CONCAT('rotator_schema_migration.', IFNULL(DATABASE(), '')), 64)"
    private static let mysqlLockTimeout: Duration = .seconds(60)

    /// Waits in one-second steps, so no single call outlasts the driver's read timeout, up to a minute
    /// (another node's migrations).
    private static func acquireMySQLLock(_ connection: any SQLConnection) throws {
        let deadline = ContinuousClock.now + mysqlLockTimeout
        repeat {
            let row = try connection.queryFirst("SELECT GET_LOCK(\(mysqlLockName), 1) AS acquired")
            switch try row?.optionalInt64("acquired") {
            case 1?:
                return
            case 0?:
                continue  // held by another migrator: wait on
            default:
                throw SQLError(.other, "GET_LOCK failed while waiting for the schema migration lock")
            }
        } while ContinuousClock.now < deadline
        throw SQLError(.busy, "another node held the schema migration lock for more than \(mysqlLockTimeout)")
    }
}
