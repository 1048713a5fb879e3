import RotatorSQL
import Testing

@testable import RotatorStore

/// A column step decides its statements from the columns the table already has: none twice, MySQL's in one statement.
@Suite struct MigrationStepTests {
    private let step = MigrationStep.addColumns(table: "api_keys", [.init("input_tokens", "BIGINT NOT NULL DEFAULT 0"), .init("output_tokens", "BIGINT NULL")])

    @Test func aFreshTableGetsEveryColumn() {
        #expect(step.statements(for: .mysql, existingColumns: ["id"])
            == ["ALTER TABLE api_keys ADD COLUMN input_tokens BIGINT NOT NULL DEFAULT 0, ADD COLUMN output_tokens BIGINT NULL"])
        #expect(step.statements(for: .sqlite, existingColumns: ["id"]) == [
            "ALTER TABLE api_keys ADD COLUMN input_tokens BIGINT NOT NULL DEFAULT 0", "ALTER TABLE api_keys ADD COLUMN output_tokens BIGINT NULL",
        ])
    }

    @Test func onlyMissingColumnsAreAdded() {
        #expect(step.statements(for: .mysql, existingColumns: ["id", "input_tokens"]) == ["ALTER TABLE api_keys ADD COLUMN output_tokens BIGINT NULL"])
        #expect(step.statements(for: .sqlite, existingColumns: ["id", "input_tokens", "output_tokens"]).isEmpty)
    }

    @Test func sqlStepsRunAsWritten() {
        let sql: MigrationStep = "CREATE TABLE IF NOT EXISTS t (id INTEGER)"
        #expect(sql.table == nil)
        #expect(sql.statements(for: .mysql, existingColumns: []) == ["CREATE TABLE IF NOT EXISTS t (id INTEGER)"])
        #expect(step.table == "api_keys")
    }

    /// Every column migration is a column step, so none can fail on a column an interrupted start already added.
    @Test func everyAddColumnIsAColumnStep() {
        for migration in Migration.all {
            for dialect in [SQLDialect.sqlite, .mysql] {
                for case .sql(let sql) in migration.steps(for: dialect) {
                    #expect(!sql.uppercased().contains("ADD COLUMN"), "migration \(migration.version): \(sql)")
                }
            }
        }
    }
}
