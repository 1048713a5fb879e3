import CSQLite
import RotatorSQL

/// Sorts SQLite result codes into `SQLError` categories. SQLite's messages name tables and columns,
/// never bound values, so they are safe to pass on.
enum SQLiteErrorMapping {
    static func error(database: OpaquePointer?, result: Int32) -> SQLError {
        let code = database.map { sqlite3_extended_errcode($0) } ?? result
        let message = database.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            ?? String(cString: sqlite3_errstr(result))
        return SQLError(category(of: code), code: code, message)
    }

    static func category(of extendedCode: Int32) -> SQLError.Category {
        switch extendedCode & 0xFF {
        case SQLITE_CONSTRAINT:
            switch extendedCode {
            case SQLITE_CONSTRAINT | (8 << 8), SQLITE_CONSTRAINT | (6 << 8):  // _UNIQUE, _PRIMARYKEY
                return .uniqueViolation
            case SQLITE_CONSTRAINT | (3 << 8):  // _FOREIGNKEY
                return .foreignKeyViolation
            default:
                return .constraintViolation
            }
        case SQLITE_BUSY, SQLITE_LOCKED:
            return .busy
        case SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_FULL, SQLITE_READONLY, SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_PERM,
            SQLITE_NOMEM, SQLITE_PROTOCOL, SQLITE_NOLFS:
            return .unavailable
        case SQLITE_ERROR, SQLITE_MISUSE, SQLITE_RANGE:
            return .invalidStatement
        default:
            return .other
        }
    }
}
