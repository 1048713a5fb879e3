/// One result row. Typed accessors throw `SQLError` (category `.decoding`) naming the column and the
/// types involved, never the value: rows may hold secrets.
public struct SQLRow: Sendable {
    public let columns: SQLColumns
    public let values: [SQLValue]

    public init(columns: SQLColumns, values: [SQLValue]) {
        precondition(columns.names.count == values.count, "a row needs one value per column")
        self.columns = columns
        self.values = values
    }

    /// The value of a column, `nil` when the result has no such column.
    public subscript(_ name: String) -> SQLValue? {
        columns.index(of: name).map { values[$0] }
    }

    public func value(_ name: String) throws -> SQLValue {
        guard let value = self[name] else {
            throw SQLError(.decoding, "column '\(name)' is not in the result")
        }
        return value
    }

    public func int64(_ name: String) throws -> Int64 {
        let value = try value(name)
        guard case .int(let int) = value else { throw mismatch(name, value, expected: "integer") }
        return int
    }

    public func int(_ name: String) throws -> Int {
        let int64 = try int64(name)
        guard let int = Int(exactly: int64) else {
            throw SQLError(.decoding, "column '\(name)' does not fit in Int")
        }
        return int
    }

    public func double(_ name: String) throws -> Double {
        switch try value(name) {
        case .double(let double): return double
        case .int(let int): return Double(int)
        case let other: throw mismatch(name, other, expected: "double")
        }
    }

    /// Integers 0 and 1 (how booleans are stored everywhere).
    public func bool(_ name: String) throws -> Bool {
        let value = try value(name)
        switch value {
        case .int(0): return false
        case .int(1): return true
        case .int: throw SQLError(.decoding, "column '\(name)' holds an integer other than 0 or 1, expected a boolean")
        default: throw mismatch(name, value, expected: "boolean")
        }
    }

    /// Text; a blob is accepted when it is valid UTF-8, because some MySQL column types come back as bytes.
    public func string(_ name: String) throws -> String {
        let value = try value(name)
        switch value {
        case .text(let text):
            return text
        case .blob(let bytes):
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw SQLError(.decoding, "column '\(name)' holds bytes that are not UTF-8, expected text")
            }
            return text
        default:
            throw mismatch(name, value, expected: "text")
        }
    }

    public func blob(_ name: String) throws -> [UInt8] {
        switch try value(name) {
        case .blob(let bytes): return bytes
        case .text(let text): return Array(text.utf8)
        case let other: throw mismatch(name, other, expected: "blob")
        }
    }

    public func optionalInt64(_ name: String) throws -> Int64? {
        try isNull(name) ? nil : int64(name)
    }

    public func optionalInt(_ name: String) throws -> Int? {
        try isNull(name) ? nil : int(name)
    }

    public func optionalString(_ name: String) throws -> String? {
        try isNull(name) ? nil : string(name)
    }

    public func isNull(_ name: String) throws -> Bool {
        try value(name) == .null
    }

    private func mismatch(_ name: String, _ value: SQLValue, expected: String) -> SQLError {
        SQLError(.decoding, "column '\(name)' holds \(value.typeName), expected \(expected)")
    }
}
