/// One database connection, lent to a closure by `SQLDatabase.withConnection` on a thread that may block.
///
/// Values only ever travel as bound parameters (`?` placeholders); SQL text is never built from values.
/// One call runs one statement. Drivers cache prepared statements by SQL text, so running the same
/// text many times (a batch insert) prepares it once.
public protocol SQLConnection {
    /// Runs a statement and returns every row it produced.
    func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow]
    /// Runs a statement whose rows, if any, are not wanted.
    @discardableResult
    func execute(_ sql: String, _ binds: [SQLValue]) throws -> SQLExecutionResult
    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// Nested calls become savepoints, so a helper may open a transaction whatever its caller did.
    @discardableResult
    func transaction<T>(_ body: () throws -> T) throws -> T
}

extension SQLConnection {
    public func query(_ sql: String) throws -> [SQLRow] {
        try query(sql, [])
    }

    @discardableResult
    public func execute(_ sql: String) throws -> SQLExecutionResult {
        try execute(sql, [])
    }

    /// The first row, or `nil` when there is none.
    public func queryFirst(_ sql: String, _ binds: [SQLValue] = []) throws -> SQLRow? {
        try query(sql, binds).first
    }
}
