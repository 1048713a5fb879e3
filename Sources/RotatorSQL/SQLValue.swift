/// One value bound to a statement parameter or read from a result column.
///
/// Booleans are stored as integers (0/1) and timestamps as integer unix milliseconds, so every
/// database maps them the same way.
public enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    public static func bool(_ value: Bool) -> SQLValue { .int(value ? 1 : 0) }

    public static func int(_ value: Int) -> SQLValue { .int(Int64(value)) }

    public static func optional(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }

    public static func optional(_ value: Int64?) -> SQLValue { value.map(SQLValue.int) ?? .null }

    /// The kind of value, for error messages that must never show the value itself.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .int: return "integer"
        case .double: return "double"
        case .text: return "text"
        case .blob: return "blob"
        }
    }
}
