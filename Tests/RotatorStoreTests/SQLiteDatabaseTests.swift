import Foundation
import RotatorSQL
import SQLiteDriver
import Testing

/// The SQLite driver below the store: binding, errors, transactions, files.
@Suite("SQLiteDatabase")
struct SQLiteDatabaseTests {
    /// Opens an in-memory database with one table, runs `body`, closes it.
    private func withDatabase<T: Sendable>(
        _ body: @escaping @Sendable (any SQLConnection) throws -> T
    ) async throws -> T {
        let database = try await SQLiteDatabase.open(path: SQLiteDatabase.inMemory)
        do {
            let value = try await database.withConnection { connection in
                try connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, value)")
                return try body(connection)
            }
            try await database.close()
            return value
        } catch {
            try await database.close()
            throw error
        }
    }

    @Test func bindsAndReadsEveryValueType() async throws {
        let values: [SQLValue] = [
            .null, .int(Int64.min), .int(0), .int(Int64.max), .double(3.25), .text(""), .text("héllo ✓ \u{0}inside"),
            .blob([]), .blob([0, 1, 2, 255]),
        ]
        let readBack = try await withDatabase { connection in
            try values.enumerated().map { index, value in
                try connection.execute("INSERT INTO items (name, value) VALUES (?, ?)", [.text("item\(index)"), value])
                return try connection.queryFirst("SELECT value FROM items WHERE name = ?", [.text("item\(index)")])?["value"]
            }
        }
        #expect(readBack == values)
    }

    @Test func reportsChangesAndInsertIDs() async throws {
        try await withDatabase { connection in
            let first = try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("a")])
            #expect(first == SQLExecutionResult(changes: 1, lastInsertID: 1))
            let second = try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("b")])
            #expect(second.lastInsertID == 2)
            #expect(try connection.execute("UPDATE items SET value = 1").changes == 2)
            #expect(try connection.execute("UPDATE items SET value = 1 WHERE id = 99").changes == 0)
            // DDL and PRAGMAs change no rows, whatever the previous statement did.
            #expect(try connection.execute("CREATE TABLE other (x)").changes == 0)
            #expect(try connection.execute("DELETE FROM items").changes == 2)
        }
    }

    @Test func typedAccessorsNameTheColumnNotTheValue() async throws {
        let row = try await withDatabase { connection in
            try connection.execute("INSERT INTO items (name, value) VALUES (?, ?)", [.text("sk-secret-value"), .int(2)])
            return try #require(try connection.queryFirst("SELECT id, name, value, NULL AS absent FROM items"))
        }
        #expect(try row.int64("id") == 1)
        #expect(try row.int("id") == 1)
        #expect(try row.string("name") == "sk-secret-value")
        #expect(try row.optionalString("absent") == nil)
        #expect(try row.optionalInt64("value") == 2)
        #expect(try row.double("value") == 2)
        #expect(throws: SQLError(.decoding, "column 'name' holds text, expected integer")) { try row.int64("name") }
        #expect(throws: SQLError(.decoding, "column 'missing' is not in the result")) { try row.string("missing") }
        #expect(throws: SQLError(.decoding, "column 'value' holds an integer other than 0 or 1, expected a boolean")) {
            try row.bool("value")
        }
        #expect(throws: SQLError(.decoding, "column 'absent' holds null, expected text")) { try row.string("absent") }
    }

    @Test func sortsConstraintErrorsIntoCategories() async throws {
        try await withDatabase { connection in
            try connection.execute("PRAGMA foreign_keys = ON")
            try connection.execute("CREATE TABLE children (parent INTEGER NOT NULL REFERENCES items (id))")
            try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("sk-unique-secret")])

            let unique = #expect(throws: SQLError.self) {
                try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("sk-unique-secret")])
            }
            #expect(unique?.category == .uniqueViolation)
            #expect(unique?.message.contains("sk-unique-secret") == false)

            let foreignKey = #expect(throws: SQLError.self) {
                try connection.execute("INSERT INTO children (parent) VALUES (?)", [.int(42)])
            }
            #expect(foreignKey?.category == .foreignKeyViolation)

            let notNull = #expect(throws: SQLError.self) {
                try connection.execute("INSERT INTO items (name) VALUES (?)", [.null])
            }
            #expect(notNull?.category == .constraintViolation)

            let syntax = #expect(throws: SQLError.self) { try connection.query("SELEC 1") }
            #expect(syntax?.category == .invalidStatement)
        }
    }

    @Test func refusesMisuse() async throws {
        try await withDatabase { connection in
            #expect(throws: SQLError(.invalidStatement, "the SQL text holds more than one statement")) {
                try connection.execute("DELETE FROM items; DROP TABLE items")
            }
            #expect(throws: SQLError(.invalidStatement, "statement has 1 parameters but 2 values were bound")) {
                try connection.query("SELECT * FROM items WHERE id = ?", [.int(1), .int(2)])
            }
            #expect(throws: SQLError(.invalidStatement, "the SQL text holds no statement")) {
                try connection.execute("  ")
            }
            // A trailing semicolon is fine; the table survived the refused statement.
            let count = try connection.query("SELECT count(*) AS n FROM items;").first?["n"]
            #expect(count == .int(0))
        }
    }

    @Test func transactionsCommitRollBackAndNest() async throws {
        struct Failure: Error {}
        try await withDatabase { connection in
            try connection.transaction {
                try connection.execute("INSERT INTO items (name) VALUES ('committed')")
            }
            #expect(throws: Failure.self) {
                try connection.transaction {
                    try connection.execute("INSERT INTO items (name) VALUES ('rolled back')")
                    throw Failure()
                }
            }
            try connection.transaction {
                try connection.execute("INSERT INTO items (name) VALUES ('outer')")
                #expect(throws: SQLError.self) {
                    try connection.transaction {
                        try connection.execute("INSERT INTO items (name) VALUES ('inner')")
                        try connection.execute("INSERT INTO items (name) VALUES ('outer')")  // unique violation
                    }
                }
                try connection.transaction {
                    try connection.execute("INSERT INTO items (name) VALUES ('inner kept')")
                }
            }
            let names = try connection.query("SELECT name FROM items ORDER BY id").map { try $0.string("name") }
            #expect(names == ["committed", "outer", "inner kept"])
        }
    }

    @Test func statementCacheEvictsWithoutBreakingQueries() async throws {
        let database = try await SQLiteDatabase.open(
            path: SQLiteDatabase.inMemory, configuration: .init(statementCacheCapacity: 2))
        let sums = try await database.withConnection { connection in
            try (0..<3).flatMap { _ in
                try (1...5).map { offset in try connection.queryFirst("SELECT ? + \(offset) AS n", [.int(10)])?.int64("n") }
            }
        }
        try await database.close()
        #expect(sums == Array(repeating: [11, 12, 13, 14, 15], count: 3).flatMap { $0 })
    }

    @Test func closedDatabaseRefusesWork() async throws {
        let database = try await SQLiteDatabase.open(path: SQLiteDatabase.inMemory)
        try await database.close()
        try await database.close()
        await #expect(throws: SQLError(.unavailable, "database is closed")) {
            try await database.withConnection { connection in try connection.query("SELECT 1") }
        }
    }

    @Test func anotherProcessesWriteLockSurfacesAsBusy() async throws {
        let path = TemporaryDirectory.make().appending("busy.db")
        defer { TemporaryDirectory.remove(containing: path) }
        let holder = try await SQLiteDatabase.open(path: path)
        let waiter = try await SQLiteDatabase.open(path: path, configuration: .init(busyTimeout: .milliseconds(50)))
        try await holder.withConnection { connection in
            try connection.execute("CREATE TABLE t (x)")
            try connection.execute("BEGIN IMMEDIATE")  // held across calls on purpose
        }
        let error = await #expect(throws: SQLError.self) {
            try await waiter.withConnection { connection in try connection.execute("INSERT INTO t VALUES (1)") }
        }
        #expect(error?.category == .busy)
        try await holder.withConnection { connection in try connection.execute("ROLLBACK") }
        try await waiter.withConnection { connection in try connection.execute("INSERT INTO t VALUES (1)") }
        try await holder.close()
        try await waiter.close()
    }

    @Test func createsOwnerOnlyDirectoryAndFile() async throws {
        let root = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "nested/data/rotator.db"
        let database = try await SQLiteDatabase.open(path: path)
        try await database.withConnection { connection in try connection.execute("CREATE TABLE t (x)") }
        let fileMode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        let directoryMode = try FileManager.default.attributesOfItem(atPath: root + "nested/data")[.posixPermissions] as? Int
        let walMode = try FileManager.default.attributesOfItem(atPath: path + "-wal")[.posixPermissions] as? Int
        try await database.close()
        #expect(fileMode == 0o600)
        #expect(walMode == 0o600)
        #expect(directoryMode == 0o700)
    }

    @Test func unopenablePathIsUnavailable() async throws {
        let root = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = FileManager.default.createFile(atPath: root + "file", contents: Data())
        let error = await #expect(throws: SQLError.self) {
            let database = try await SQLiteDatabase.open(path: root + "file/rotator.db")
            try await database.close()
        }
        #expect(error?.category == .unavailable)
    }
}
