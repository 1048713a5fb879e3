import RotatorSQL

/// One step of a migration: SQL run as written, or columns added to a table that lacks them.
///
/// `ADD COLUMN` is the one DDL with no `IF NOT EXISTS` in SQLite and MySQL 8 (MariaDB has it), and MySQL commits DDL
/// implicitly: a node that stopped between the `ALTER TABLE` and its `schema_migrations` row would otherwise fail
/// every later start with a duplicate column. So the migrator reads the table's columns first and adds only the missing.
enum MigrationStep: Sendable, Equatable, ExpressibleByStringLiteral {
    /// Idempotent by itself (`CREATE TABLE IF NOT EXISTS`, `INSERT OR IGNORE`).
    case sql(String)
    /// Added in one `ALTER TABLE` on MySQL/MariaDB (atomic per statement), one statement per column on SQLite (whose
    /// DDL the migrator's transaction rolls back whole).
    case addColumns(table: String, [Column])

    struct Column: Sendable, Equatable {
        var name: String
        /// The column's type and constraints, e.g. `TEXT NULL`.
        var definition: String

        init(_ name: String, _ definition: String) {
            self.name = name
            self.definition = definition
        }
    }

    init(stringLiteral sql: String) {
        self = .sql(sql)
    }

    /// The statements that bring the table to this step, given the columns it already has (compared without case, as
    /// both databases name columns).
    func statements(for dialect: SQLDialect, existingColumns: Set<String>) -> [String] {
        switch self {
        case .sql(let sql):
            return [sql]
        case .addColumns(let table, let columns):
            let missing = columns.filter { !existingColumns.contains($0.name.lowercased()) }.map { "ADD COLUMN \($0.name) \($0.definition)" }
            guard !missing.isEmpty else { return [] }
            switch dialect {
            case .sqlite: return missing.map { "ALTER TABLE \(table) \($0)" }
            case .mysql: return ["ALTER TABLE \(table) " + missing.joined(separator: ", ")]
            }
        }
    }

    /// The table whose columns this step needs to know, if any.
    var table: String? {
        if case .addColumns(let table, _) = self { return table }
        return nil
    }
}
