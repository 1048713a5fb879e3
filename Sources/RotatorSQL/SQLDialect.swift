/// The SQL flavour of a database. Both use `?` placeholders; the repository switches on the dialect
/// only where the SQL text really differs (DDL, `INSERT OR IGNORE` vs `INSERT IGNORE`).
public enum SQLDialect: String, Sendable, CaseIterable {
    case sqlite
    case mysql
}
