/// One RESP2 reply from Redis.
public enum RESPValue: Sendable, Equatable, Hashable {
    /// `+OK`
    case simpleString(String)
    /// `-ERR ...` as a value. `RedisConnection.send` throws these as `RedisError.server` at the top level;
    /// they stay values when nested (an `EXEC` or Lua reply may contain them).
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$n ...`; `nil` for the null bulk string `$-1`.
    case bulkString([UInt8]?)
    /// `*n ...`; `nil` for the null array `*-1`.
    case array([RESPValue]?)

    public static let null = RESPValue.bulkString(nil)
}

extension RESPValue {
    /// `true` for the null bulk string and the null array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }

    /// The text of a simple string or (UTF-8 decoded) bulk string; also an integer's decimal text.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes?): String(decoding: bytes, as: UTF8.self)
        case .integer(let value): String(value)
        default: nil
        }
    }

    /// The raw bytes of a bulk or simple string.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes?): bytes
        case .simpleString(let text): Array(text.utf8)
        default: nil
        }
    }

    /// An integer reply, or a string reply holding a decimal integer (Lua numbers often come back that way).
    public var int: Int64? {
        switch self {
        case .integer(let value): value
        case .bulkString(let bytes?): Int64(String(decoding: bytes, as: UTF8.self))
        case .simpleString(let text): Int64(text)
        default: nil
        }
    }

    /// The elements of a non-null array.
    public var array: [RESPValue]? {
        if case .array(let elements?) = self { return elements }
        return nil
    }

    /// The message of an error reply.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}

extension RESPValue: CustomStringConvertible {
    /// Shape and sizes only: reply contents may hold keys and must not reach logs by accident.
    public var description: String {
        switch self {
        case .simpleString(let text): "simpleString(\(text.utf8.count) bytes)"
        case .error(let message): "error(\(message.prefix(while: { $0 != " " })))"
        case .integer: "integer"
        case .bulkString(nil): "null"
        case .bulkString(let bytes?): "bulkString(\(bytes.count) bytes)"
        case .array(nil): "nullArray"
        case .array(let elements?): "array(\(elements.map(\.description).joined(separator: ", ")))"
        }
    }
}
