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
                    for statement in migration.statements(for: dialect) {
                        try connection.execute(statement)
                    }
                    try connection.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        [.int(migration.version), .int(nowMilliseconds)]
                    )
                }
            }
        }
    }

    /// Serializes migrators across processes where the transaction alone does not.
    private static func withMigrationLock(_ connection: any SQLConnection, dialect: SQLDialect, _ body: () throws -> Void) throws {
        switch dialect {
        case .sqlite:
            try body()
        case .mysql:
            // MySQL commits DDL implicitly, so the transaction does not keep two nodes from migrating at once.
            // Hook for the MariaDB issue: `SELECT GET_LOCK('rotator_schema_migration', 60)` (must return 1),
            // run `body`, then `SELECT RELEASE_LOCK('rotator_schema_migration')` in a `defer`, on this connection.
            try body()
        }
    }
}
