/// One argument of a Redis command: a string, or bytes (binary safe).
public struct RedisArgument: Sendable, Hashable {
    @usableFromInline
    enum Storage: Sendable, Hashable {
        case string(String)
        case bytes([UInt8])
    }

    @usableFromInline
    let storage: Storage

    @inlinable
    public init(_ string: String) { storage = .string(string) }

    @inlinable
    public init(_ bytes: [UInt8]) { storage = .bytes(bytes) }

    @inlinable
    public init<I: BinaryInteger>(_ value: I) { storage = .string(String(value)) }

    /// Redis parses doubles from their shortest round-trip text.
    @inlinable
    public init(_ value: Double) { storage = .string(value.description) }

    /// Bytes on the wire.
    var byteCount: Int {
        switch storage {
        case .string(let string): string.utf8.count
        case .bytes(let bytes): bytes.count
        }
    }
}

extension RedisArgument: ExpressibleByStringLiteral {
    @inlinable
    public init(stringLiteral value: String) { self.init(value) }
}

extension RedisArgument: ExpressibleByIntegerLiteral {
    @inlinable
    public init(integerLiteral value: Int) { self.init(value) }
}

extension RedisArgument: ExpressibleByStringInterpolation {
    @inlinable
    public init(stringInterpolation: DefaultStringInterpolation) {
        self.init(String(stringInterpolation: stringInterpolation))
    }
}
