import CSQLite
import RotatorSQL

/// The one SQLite connection of a `SQLiteDatabase`. Not thread-safe by itself: the database lends it to one
/// closure at a time, under its lock, on its thread pool. Owns the `sqlite3` handle and every statement.
final class SQLiteConnection: SQLConnection, SQLSavepointNesting {
    private var handle: OpaquePointer?
    /// Prepared statements by SQL text: the repository's queries are a fixed set, so a batch insert prepares
    /// its statement once.
    private var statements: [String: SQLiteStatement] = [:]
    private let statementCacheCapacity: Int
    var transactionDepth = 0

    private init(handle: OpaquePointer, statementCacheCapacity: Int) {
        self.handle = handle
        self.statementCacheCapacity = max(1, statementCacheCapacity)
    }

    deinit {
        close()
    }

    static func open(path: String, busyTimeoutMilliseconds: Int32, statementCacheCapacity: Int) throws -> SQLiteConnection {
        var handle: OpaquePointer?
        // NOMUTEX: SQLite's own per-connection mutex is redundant, SQLiteDatabase serializes every use.
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let result = sqlite3_open_v2(path, &handle, flags, nil)
        guard result == SQLITE_OK, let handle else {
            let error = SQLiteErrorMapping.error(database: handle, result: result)
            sqlite3_close_v2(handle)
            throw SQLError(.unavailable, code: error.code, "cannot open SQLite database at \(path): \(error.message)")
        }
        sqlite3_extended_result_codes(handle, 1)
        // Waits for another process's write lock instead of failing at once with SQLITE_BUSY.
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)

        let connection = SQLiteConnection(handle: handle, statementCacheCapacity: statementCacheCapacity)
        // WAL lets readers run while a write is in progress; in-memory databases answer "memory" and stay so.
        _ = try connection.query("PRAGMA journal_mode = WAL", [])
        try connection.execute("PRAGMA foreign_keys = ON", [])
        return connection
    }

    /// Finalizes every statement, then closes the handle (SQLite checkpoints and removes the WAL file).
    func close() {
        statements.removeAll()
        if let handle {
            sqlite3_close_v2(handle)
            self.handle = nil
        }
    }

    // MARK: SQLConnection

    func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        try run(sql, binds, collectingRows: true)
    }

    @discardableResult
    func execute(_ sql: String, _ binds: [SQLValue]) throws -> SQLExecutionResult {
        let handle = try openHandle()
        let totalBefore = sqlite3_total_changes(handle)
        _ = try run(sql, binds, collectingRows: false)  // rows, e.g. from a PRAGMA, are not wanted
        // sqlite3_changes keeps the count of the last INSERT/UPDATE/DELETE: only trust it if this statement changed something.
        let changed = sqlite3_total_changes(handle) != totalBefore
        return SQLExecutionResult(
            changes: changed ? Int(sqlite3_changes(handle)) : 0,
            lastInsertID: sqlite3_last_insert_rowid(handle)
        )
    }

    @discardableResult
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try nestedTransaction(body)
    }

    // MARK: SQLSavepointNesting

    /// IMMEDIATE takes the write lock up front: a read-then-write transaction cannot hit SQLITE_BUSY halfway
    /// through because another process started writing.
    let beginStatement = "BEGIN IMMEDIATE"

    /// False when SQLite already rolled back (it does so itself after some errors).
    var needsRollback: Bool {
        guard let handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    func runControl(_ sql: String) throws {
        try execute(sql, [])
    }

    // MARK: Internals

    private func openHandle() throws -> OpaquePointer {
        guard let handle else { throw SQLError(.unavailable, "database is closed") }
        return handle
    }

    /// Steps `sql` to completion, returning its rows when asked to.
    private func run(_ sql: String, _ binds: [SQLValue], collectingRows: Bool) throws -> [SQLRow] {
        let handle = try openHandle()
        let statement = try prepared(sql, handle: handle)
        defer { statement.reset() }
        try statement.bind(binds, database: handle)
        var rows: [SQLRow] = []
        var columns: SQLColumns?
        while true {
            let result = sqlite3_step(statement.pointer)
            switch result {
            case SQLITE_ROW:
                guard collectingRows else { continue }
                // Column names are read once per run: a schema change may re-prepare the statement between runs.
                let rowColumns = columns ?? statement.columns
                columns = rowColumns
                rows.append(SQLRow(columns: rowColumns, values: statement.currentRow(columnCount: rowColumns.names.count)))
            case SQLITE_DONE:
                return rows
            default:
                throw SQLiteErrorMapping.error(database: handle, result: result)
            }
        }
    }

    private func prepared(_ sql: String, handle: OpaquePointer) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }

        var pointer: OpaquePointer?
        var remainder = ""
        let result = sql.withCString { text in
            var tail: UnsafePointer<CChar>?
            let result = sqlite3_prepare_v3(handle, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &pointer, &tail)
            if let tail { remainder = String(cString: tail) }
            return result
        }
        guard result == SQLITE_OK else {
            sqlite3_finalize(pointer)
            throw SQLiteErrorMapping.error(database: handle, result: result)
        }
        guard let pointer else {
            throw SQLError(.invalidStatement, "the SQL text holds no statement")
        }
        let statement = SQLiteStatement(pointer: pointer)
        // One statement per call keeps drivers alike (MySQL prepares one statement at a time).
        guard remainder.allSatisfy({ $0.isWhitespace || $0 == ";" }) else {
            throw SQLError(.invalidStatement, "the SQL text holds more than one statement")
        }
        if statements.count >= statementCacheCapacity, let evicted = statements.keys.first {
            statements[evicted] = nil
        }
        statements[sql] = statement
        return statement
    }
}
