internal import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Incremental RESP parser over hiredis' `redisReader`: feed bytes as they arrive, take complete replies.
///
/// Owns the C reader (and the reply-function table it points to) and frees both in `deinit`; every
/// `redisReply` tree is converted to `RESPValue` and freed before `next()` returns. Not thread-safe: one
/// instance belongs to one channel pipeline.
public final class RESPReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>
    private let functions: UnsafeMutablePointer<redisReplyObjectFunctions>

    public init() {
        guard let reader = redisReaderCreate() else { fatalError("redisReaderCreate: out of memory") }
        // hiredis' default `createNil` forgets whether the nil was `$-1` or `*-1`; ours records the task type
        // in the otherwise unused `integer` field so that `RESPValue` can tell a null array from a null string.
        let functions = UnsafeMutablePointer<redisReplyObjectFunctions>.allocate(capacity: 1)
        var table = reader.pointee.fn.pointee
        table.createNil = createTypedNil
        functions.initialize(to: table)
        reader.pointee.fn = functions
        self.reader = reader
        self.functions = functions
    }

    deinit {
        redisReaderFree(reader)
        functions.deinitialize(count: 1)
        functions.deallocate()
    }

    /// Appends received bytes (hiredis copies them into its own buffer).
    public func feed(_ bytes: UnsafeRawBufferPointer) throws(RedisError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count) != REDIS_OK {
            throw .protocolError(errorString)
        }
    }

    public func feed(_ bytes: [UInt8]) throws(RedisError) {
        var failure: RedisError?
        bytes.withUnsafeBytes { raw in
            do throws(RedisError) { try feed(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// The next complete reply, or nil when more bytes are needed. After a protocol error the reader stays
    /// broken: the connection must be closed.
    public func next() throws(RedisError) -> RESPValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            throw .protocolError(errorString)
        }
        guard let raw else { return nil }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.convert(reply)
    }

    private var errorString: String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RESPValue {
        let node = reply.pointee
        switch node.type {
        case REDIS_REPLY_STRING:
            return .bulkString(bytes(node))
        case REDIS_REPLY_STATUS:
            return .simpleString(String(decoding: bytes(node), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(node), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(node.integer))
        case REDIS_REPLY_NIL:
            return node.integer == REDIS_REPLY_ARRAY ? .array(nil) : .bulkString(nil)
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(node.elements)
            for index in 0..<node.elements {
                if let child = node.element[index] {
                    elements.append(convert(child))
                } else {
                    elements.append(.bulkString(nil))
                }
            }
            return .array(elements)
        default:
            return .error("unknown reply type \(node.type)")
        }
    }

    private static func bytes(_ node: redisReply) -> [UInt8] {
        guard let str = node.str, node.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: str, count: node.len))
    }
}

/// `createNil` for the reader's function table: like hiredis' own (a `REDIS_REPLY_NIL` object linked into
/// its parent array), plus the task type (`REDIS_REPLY_STRING` or `REDIS_REPLY_ARRAY`) in `integer`.
/// Allocated with `calloc` because hiredis 0.14's `freeReplyObject` releases it with `free`.
private let createTypedNil: @convention(c) (UnsafePointer<redisReadTask>?) -> UnsafeMutableRawPointer? = { task in
    guard let task, let raw = calloc(1, MemoryLayout<redisReply>.size) else { return nil }
    let reply = raw.bindMemory(to: redisReply.self, capacity: 1)
    reply.pointee.type = REDIS_REPLY_NIL
    reply.pointee.integer = Int64(task.pointee.type)
    if let parent = task.pointee.parent, let parentObject = parent.pointee.obj {
        let parentReply = parentObject.assumingMemoryBound(to: redisReply.self)
        parentReply.pointee.element[Int(task.pointee.idx)] = reply
    }
    return raw
}
