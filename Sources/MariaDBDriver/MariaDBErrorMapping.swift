import RotatorSQL

/// Sorts MariaDB/MySQL error numbers (server `ER_*` and client `CR_*`) into `SQLError` categories, and keeps
/// bound values out of the messages.
enum MariaDBErrorMapping {
    /// Errors after which the connection is unusable: it is closed and opened again on its next use.
    /// The statement that failed may or may not have been applied, so it is never retried here.
    static let lostConnectionCodes: Set<UInt32> = [
        2002,  // CR_CONNECTION_ERROR: cannot connect (socket)
        2003,  // CR_CONN_HOST_ERROR: cannot connect (TCP)
        2006,  // CR_SERVER_GONE_ERROR: server went away between statements
        2013,  // CR_SERVER_LOST: lost during a statement, or a read/write timeout expired
        2055,  // CR_SERVER_LOST_EXTENDED
        1053,  // ER_SERVER_SHUTDOWN
        1927,  // ER_CONNECTION_KILLED (MariaDB)
        4031,  // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8: idle connection closed by the server)
    ]

    static func isLostConnection(_ code: UInt32) -> Bool {
        lostConnectionCodes.contains(code)
    }

    static func error(code: UInt32, message: String) -> SQLError {
        SQLError(category(of: code), code: Int32(clamping: code), safeMessage(code: code, message: message))
    }

    static func category(of code: UInt32) -> SQLError.Category {
        if isLostConnection(code) { return .unavailable }
        switch code {
        case 1062, 1586, 1022, 1169:  // ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME, ER_DUP_KEY, ER_DUP_UNIQUE
            return .uniqueViolation
        case 1451, 1452, 1216, 1217:  // ER_ROW_IS_REFERENCED(_2), ER_NO_REFERENCED_ROW(_2)
            return .foreignKeyViolation
        case 1048, 1364, 3819, 4025, 1406, 1264:
            // BAD_NULL, NO_DEFAULT_FOR_FIELD, CHECK (MySQL), CONSTRAINT_FAILED (MariaDB), DATA_TOO_LONG, OUT_OF_RANGE
            return .constraintViolation
        case 1205, 1213:  // ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK
            return .busy
        case 1040, 1044, 1045, 1049, 1021, 1114, 1152, 1158, 1159, 1160, 1161, 1203, 1226, 2000, 2001, 2004, 2005,
            2007, 2008, 2009, 2012, 2026, 2048, 2059:
            // Too many connections, access denied, unknown database, disk/table full, network errors, resource
            // limits, client-side connect/handshake/SSL/plugin failures: the database cannot be used right now.
            return .unavailable
        case 1064, 1146, 1054, 1210, 1295, 1149, 1243, 2014, 2030, 2031, 2034, 2035, 2036, 2050, 2051, 2052, 2053,
            2056, 2057:
            // Syntax, unknown table/column, wrong arguments, statement not preparable, client API misuse.
            return .invalidStatement
        default:
            return .other
        }
    }

    /// The server's message, unless it may quote a value (which may be a bound secret): then a fixed text.
    ///
    /// "Duplicate entry 'sk-…' for key 'uq'" quotes the duplicate value: only the key's name (always last,
    /// so a value containing " for key " cannot forge it) is kept. Conversion errors quote the offending value
    /// and get a generic message; other messages name tables, columns, keys and SQL text, never values.
    static func safeMessage(code: UInt32, message: String) -> String {
        switch code {
        case 1062, 1586:
            if let range = message.ranges(of: " for key ").last {
                return "Duplicate entry for key \(message[range.upperBound...])"
            }
            return "Duplicate entry for a unique key"
        case 1022, 1169:
            return "Duplicate value for a unique key"
        case 1265, 1292, 1366, 1367, 1411, 1690, 1918, 3156:
            // DATA_TRUNCATED, TRUNCATED_WRONG_VALUE, TRUNCATED_WRONG_VALUE_FOR_FIELD, ILLEGAL_VALUE_FOR_TYPE,
            // WRONG_VALUE_FOR_TYPE, DATA_OUT_OF_RANGE, BAD_DATA, INVALID_JSON_VALUE_FOR_CAST
            return "A value could not be converted to the column's or function's type"
        default:
            return message
        }
    }
}
