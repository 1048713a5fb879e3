import NIOCore

/// Writes a command as a RESP array of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`).
///
/// Our own encoder rather than hiredis' `redisFormatCommandArgv`: it writes straight into the channel's
/// buffer without a `malloc`/`free` per command and needs no C strings.
public enum RESPCommandEncoder {
    public static func encode(_ arguments: [RedisArgument], into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: estimatedSize(arguments))
        buffer.writeInteger(UInt8(ascii: "*"))
        writeDecimal(arguments.count, into: &buffer)
        buffer.writeStaticString("\r\n")
        for argument in arguments {
            buffer.writeInteger(UInt8(ascii: "$"))
            writeDecimal(argument.byteCount, into: &buffer)
            buffer.writeStaticString("\r\n")
            switch argument.storage {
            case .string(let string): buffer.writeString(string)
            case .bytes(let bytes): buffer.writeBytes(bytes)
            }
            buffer.writeStaticString("\r\n")
        }
    }

    public static func encode(_ arguments: [RedisArgument], allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: estimatedSize(arguments))
        encode(arguments, into: &buffer)
        return buffer
    }

    private static func estimatedSize(_ arguments: [RedisArgument]) -> Int {
        var size = 16
        for argument in arguments { size += argument.byteCount + 16 }
        return size
    }

    /// Decimal digits without going through `String` (this runs once or twice per argument).
    private static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        precondition(value >= 0)
        if value < 10 {
            buffer.writeInteger(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { scratch in
            var remaining = value
            var index = scratch.count
            while remaining > 0 {
                index -= 1
                scratch[index] = UInt8(ascii: "0") &+ UInt8(remaining % 10)
                remaining /= 10
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[index...]))
        }
    }
}
