import CMariaDB
import RotatorSQL

/// One server-side prepared statement. Owns its `MYSQL_STMT` and closes it on deinit; only its connection
/// uses it, on the thread the connection is lent to.
final class MariaDBStatement {
    /// What one run of the statement produced.
    struct Outcome {
        var rows: [SQLRow] = []
        /// Rows matched (the connection uses CLIENT_FOUND_ROWS); 0 for statements that return a result set.
        var changes = 0
        var lastInsertID: Int64 = 0
    }

    private let pointer: UnsafeMutablePointer<MYSQL_STMT>
    let parameterCount: Int

    private init(pointer: UnsafeMutablePointer<MYSQL_STMT>) {
        self.pointer = pointer
        self.parameterCount = Int(mysql_stmt_param_count(pointer))
    }

    deinit {
        mysql_stmt_close(pointer)
    }

    static func prepare(_ sql: String, on mysql: UnsafeMutablePointer<MYSQL>) throws -> MariaDBStatement {
        guard let pointer = mysql_stmt_init(mysql) else {
            throw MariaDBErrorMapping.error(code: mysql_errno(mysql), message: String(cString: mysql_error(mysql)))
        }
        // Makes mysql_stmt_store_result compute each column's longest value, so result buffers fit exactly.
        var updateMaxLength: my_bool = 1
        mysql_stmt_attr_set(pointer, STMT_ATTR_UPDATE_MAX_LENGTH, &updateMaxLength)

        var text = sql
        let result = text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { characters in
                mysql_stmt_prepare(pointer, characters.baseAddress, UInt(characters.count))
            }
        }
        guard result == 0 else {
            let error = statementError(pointer)
            mysql_stmt_close(pointer)
            throw error
        }
        return MariaDBStatement(pointer: pointer)
    }

    /// Binds `values`, executes, and reads the result set if there is one (always consumed, so the
    /// connection is ready for the next statement; rows are decoded only when `collectingRows`).
    func run(_ values: [SQLValue], collectingRows: Bool) throws -> Outcome {
        guard values.count == parameterCount else {
            throw SQLError(.invalidStatement, "statement has \(parameterCount) parameters but \(values.count) values were bound")
        }
        let parameters = ParameterBuffers(values)
        try withExtendedLifetime(parameters) {
            if parameterCount > 0, mysql_stmt_bind_param(pointer, parameters.binds) != 0 {
                throw Self.statementError(pointer)
            }
            if mysql_stmt_execute(pointer) != 0 {
                throw Self.statementError(pointer)
            }
        }

        guard let metadata = mysql_stmt_result_metadata(pointer) else {
            let affected = mysql_stmt_affected_rows(pointer)
            return Outcome(
                changes: affected == UInt64.max ? 0 : Int(clamping: affected),
                lastInsertID: Int64(clamping: mysql_stmt_insert_id(pointer))
            )
        }
        defer { mysql_free_result(metadata) }
        guard mysql_stmt_store_result(pointer) == 0 else {
            throw Self.statementError(pointer)
        }
        defer { mysql_stmt_free_result(pointer) }
        guard collectingRows else { return Outcome() }

        let columnCount = Int(mysql_num_fields(metadata))
        guard columnCount > 0, let fields = mysql_fetch_fields(metadata) else { return Outcome() }
        let result = ResultBuffers(fields: UnsafeBufferPointer(start: fields, count: columnCount))
        guard mysql_stmt_bind_result(pointer, result.binds) == 0 else {
            throw Self.statementError(pointer)
        }
        var rows: [SQLRow] = []
        rows.reserveCapacity(Int(clamping: mysql_stmt_num_rows(pointer)))
        while true {
            switch mysql_stmt_fetch(pointer) {
            case 0:
                rows.append(SQLRow(columns: result.columns, values: try result.currentRow(statement: pointer)))
            case MYSQL_DATA_TRUNCATED:
                // Only if max_length was unknown for a column: its value is fetched again at its full length.
                rows.append(SQLRow(columns: result.columns, values: try result.currentRow(statement: pointer, refetchingTruncated: true)))
            case MYSQL_NO_DATA:
                return Outcome(rows: rows)
            default:
                throw Self.statementError(pointer)
            }
        }
    }

    static func statementError(_ pointer: UnsafeMutablePointer<MYSQL_STMT>) -> SQLError {
        MariaDBErrorMapping.error(code: mysql_stmt_errno(pointer), message: String(cString: mysql_stmt_error(pointer)))
    }
}
