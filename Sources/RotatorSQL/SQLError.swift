/// A failure reported by a driver, sorted into categories the repository can act on.
///
/// Drivers must keep bound values out of `message` (they may be secrets). SQLite's messages never
/// contain them; MySQL's "Duplicate entry 'value' for key ..." does, so its driver must rewrite it.
public struct SQLError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Category: Sendable, Equatable {
        /// A UNIQUE or PRIMARY KEY constraint rejected the write.
        case uniqueViolation
        case foreignKeyViolation
        /// Another constraint (NOT NULL, CHECK) rejected the write.
        case constraintViolation
        /// The database is locked or busy beyond the driver's timeout; retrying later may work.
        case busy
        /// The database cannot be reached, opened, read or written (I/O, disk full, closed, connection lost).
        case unavailable
        /// The SQL text is wrong or the API was misused: a bug in the caller, not a data problem.
        case invalidStatement
        /// A result column is missing or holds a type the caller did not expect.
        case decoding
        case other
    }

    public var category: Category
    /// The driver's own error code (SQLite extended result code, MySQL error number); 0 when none.
    public var code: Int32
    public var message: String

    public init(_ category: Category, code: Int32 = 0, _ message: String) {
        self.category = category
        self.code = code
        self.message = message
    }

    public var description: String {
        code == 0 ? message : "\(message) (code \(code))"
    }
}
