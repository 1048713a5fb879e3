import Foundation
import LocalTestServers
import MariaDBDriver
import RotatorSQL
import Testing

/// The MariaDB driver against a real server: binding, result types, errors, transactions.
@Suite("MariaDBDatabase", .enabled(if: MariaDBTestServer.shouldRunTests, mariaDBUnavailable))
struct MariaDBDatabaseTests {
    private static let createItems = """
        CREATE TABLE items (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(191) NOT NULL UNIQUE, \
        int_value BIGINT NULL, double_value DOUBLE NULL, text_value LONGTEXT NULL, blob_value LONGBLOB NULL) \
        ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """

    @Test func dialectIsMySQL() async throws {
        try await TestDatabase.with { database in
            #expect(database.dialect == .mysql)
        }
    }

    @Test func bindsAndReadsEveryValueType() async throws {
        // Large enough to need more than one network packet and more than any default buffer.
        let largeText = String(repeating: "héllo ✓ 🚀 ", count: 60_000)
        let largeBlob = (0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let rows: [(column: String, value: SQLValue)] = [
            ("int_value", .null), ("int_value", .int(Int64.min)), ("int_value", .int(0)), ("int_value", .int(Int64.max)),
            ("double_value", .double(3.25)), ("double_value", .double(-1e300)), ("double_value", .null),
            ("text_value", .text("")), ("text_value", .text("héllo ✓ 🚀 \u{0}inside")), ("text_value", .text(largeText)),
            ("text_value", .null),
            ("blob_value", .blob([])), ("blob_value", .blob([0, 1, 2, 255, 0])), ("blob_value", .blob(largeBlob)),
            ("blob_value", .null),
        ]
        try await TestDatabase.with { database in
            let readBack = try await database.withConnection { connection in
                try connection.execute(Self.createItems)
                return try rows.enumerated().map { index, row in
                    try connection.execute("INSERT INTO items (name, \(row.column)) VALUES (?, ?)", [.text("item\(index)"), row.value])
                    return try connection.queryFirst("SELECT \(row.column) FROM items WHERE name = ?", [.text("item\(index)")])?[row.column]
                }
            }
            #expect(readBack.count == rows.count)
            for (index, value) in readBack.enumerated() {
                #expect(value == rows[index].value, "row \(index) (\(rows[index].column), \(rows[index].value.typeName))")
            }
        }
    }

    @Test func readsExpressionTypes() async throws {
        try await TestDatabase.with { database in
            let row = try await database.withConnection { connection in
                try #require(try connection.queryFirst("""
                    SELECT ? AS echoed, NULL AS nothing, 1 = 1 AS truth, CAST(7 AS UNSIGNED) AS unsigned_int, \
                    SUM(x) AS total, AVG(x) AS mean, 0.5 AS fraction, CAST('2024-05-06' AS DATE) AS day, \
                    CAST(X'00FF' AS BINARY(2)) AS bytes \
                    FROM (SELECT 1 AS x UNION ALL SELECT 2) AS numbers
                    """, [.text("sk-échoed")]))
            }
            #expect(try row.string("echoed") == "sk-échoed")
            #expect(row["nothing"] == .null)
            #expect(try row.bool("truth"))
            #expect(try row.int64("unsigned_int") == 7)
            #expect(try row.int64("total") == 3)  // SUM is DECIMAL on the wire
            #expect(try row.double("mean") == 1.5)
            #expect(try row.double("fraction") == 0.5)
            #expect(try row.string("day") == "2024-05-06")
            #expect(try row.blob("bytes") == [0x00, 0xFF])
            #expect(row.columns.names == ["echoed", "nothing", "truth", "unsigned_int", "total", "mean", "fraction", "day", "bytes"])
        }
    }

    @Test func reportsMatchedRowsAndInsertIDs() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try connection.execute(Self.createItems)
                let first = try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("a")])
                #expect(first == SQLExecutionResult(changes: 1, lastInsertID: 1))
                #expect(try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("b")]).lastInsertID == 2)
                #expect(try connection.execute("UPDATE items SET int_value = 1").changes == 2)
                // CLIENT_FOUND_ROWS: rewriting identical values still counts the rows, as SQLite does.
                #expect(try connection.execute("UPDATE items SET int_value = 1").changes == 2)
                #expect(try connection.execute("UPDATE items SET int_value = 1 WHERE id = 99").changes == 0)
                #expect(try connection.execute("SELECT id FROM items").changes == 0)  // rows not wanted, consumed
                #expect(try connection.execute("DELETE FROM items").changes == 2)
            }
        }
    }

    @Test func sortsErrorsIntoCategoriesWithoutValues() async throws {
        let secret = "sk-live-0123456789abcdef"
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try connection.execute(Self.createItems)
                try connection.execute("""
                    CREATE TABLE children (id BIGINT NOT NULL PRIMARY KEY, item_id BIGINT NOT NULL, \
                    quantity INT NOT NULL, CONSTRAINT ck_quantity CHECK (quantity > 0), \
                    CONSTRAINT fk_children_item FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE RESTRICT) ENGINE=InnoDB
                    """)
                try connection.execute("INSERT INTO items (name) VALUES (?)", [.text(secret)])
            }
            func failure(_ sql: String, _ binds: [SQLValue] = []) async -> SQLError? {
                await #expect(throws: SQLError.self) {
                    try await database.withConnection { connection in try connection.execute(sql, binds) }
                }
            }

            let duplicate = await failure("INSERT INTO items (name) VALUES (?)", [.text(secret)])
            #expect(duplicate?.category == .uniqueViolation)
            #expect(duplicate?.code == 1062)
            #expect(duplicate.map { !$0.description.contains("sk-live") } == true, "the duplicate value must not be quoted")
            #expect(duplicate?.message.contains("name") == true, "the key's name stays: \(duplicate?.message ?? "")")

            #expect(await failure("INSERT INTO children (id, item_id, quantity) VALUES (1, ?, 1)", [.int(999)])?.category == .foreignKeyViolation)
            try await database.withConnection { connection in
                try connection.execute("INSERT INTO children (id, item_id, quantity) VALUES (1, 1, 1)")
            }
            #expect(await failure("DELETE FROM items")?.category == .foreignKeyViolation)
            #expect(await failure("INSERT INTO children (id, item_id, quantity) VALUES (2, 1, ?)", [.int(0)])?.category == .constraintViolation)
            #expect(await failure("INSERT INTO items (name) VALUES (?)", [.null])?.category == .constraintViolation)

            let conversion = await failure("INSERT INTO children (id, item_id, quantity) VALUES (3, 1, ?)", [.text(secret)])
            #expect(conversion.map { !$0.description.contains("sk-live") } == true, "\(conversion?.description ?? "")")

            #expect(await failure("SELEKT 1")?.category == .invalidStatement)
            #expect(await failure("SELECT * FROM missing_table")?.category == .invalidStatement)
            #expect(await failure("SELECT ?", [])?.category == .invalidStatement)
            #expect(await failure("SELECT 1; SELECT 2")?.category == .invalidStatement)

            // The connection is still usable after every failure.
            #expect(try await database.withConnection { try $0.query("SELECT COUNT(*) AS n FROM items").first?.int("n") } == 1)
        }
    }

    @Test func transactionsCommitRollBackAndNest() async throws {
        struct Abort: Error {}
        try await TestDatabase.with { database in
            let names = try await database.withConnection { connection in
                try connection.execute(Self.createItems)
                try connection.transaction {
                    try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("committed")])
                }
                _ = try? connection.transaction {
                    try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("rolled back")])
                    throw Abort()
                }
                try connection.transaction {
                    try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("outer")])
                    _ = try? connection.transaction {
                        try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("inner, rolled back")])
                        throw Abort()
                    }
                    try connection.transaction {
                        try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("inner, kept")])
                    }
                }
                // A failing statement inside a transaction rolls it back as a whole.
                _ = try? connection.transaction {
                    try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("before the duplicate")])
                    try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("outer")])
                }
                return try connection.query("SELECT name FROM items ORDER BY id").map { try $0.string("name") }
            }
            #expect(names == ["committed", "outer", "inner, kept"])
        }
    }

    @Test func connectionsSeeEachOthersCommits() async throws {
        try await TestDatabase.with(poolSize: 2) { database in
            try await database.withConnection { try $0.execute(Self.createItems) }
            // Two loans at once, so they run on two connections.
            async let write: Void = database.withConnection { connection in
                try connection.execute("INSERT INTO items (name) VALUES (?)", [.text("shared")])
                _ = try connection.query("SELECT SLEEP(0.2)")
            }
            async let read: Void = database.withConnection { _ = try $0.query("SELECT SLEEP(0.1)") }
            _ = try await (write, read)
            let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await database.withConnection { connection in
                            _ = try connection.query("SELECT SLEEP(0.05)")
                            return try connection.query("SELECT COUNT(*) AS n FROM items")[0].int("n")
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(counts == [1, 1])
        }
    }

    @Test func unreachableServerIsUnavailable() async throws {
        let port = try FreePort.find()
        let settings = MariaDBConnectionSettings(port: port, user: "root", database: "none", connectTimeout: .seconds(2))
        let error = await #expect(throws: SQLError.self) {
            try await MariaDBDatabase.connect(settings, poolSize: 1)
        }
        #expect(error?.category == .unavailable)
    }

    @Test func unknownDatabaseIsUnavailable() async throws {
        let server = try await MariaDBTestServer.shared()
        let error = await #expect(throws: SQLError.self) {
            try await MariaDBDatabase.connect(TestDatabase.settings(on: server, database: "no_such_database"), poolSize: 1)
        }
        #expect(error?.category == .unavailable)
        #expect(error?.code == 1049)
    }
}
