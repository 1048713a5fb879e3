import CNIOExtrasZlib
import NIOCore

/// Decodes a `gzip` or `deflate` answer body part by part (zlib, as vendored by swift-nio-extras' NIOHTTPCompression),
/// so the scrubber sees the bytes the client would read. Owns its zlib stream; used on one event loop.
final class BodyInflater {
    enum Failure: Error, Equatable {
        /// zlib could not start (out of memory).
        case initialization
        /// The bytes are not a valid stream of the declared encoding, or carry bytes after its end.
        case corrupt
        /// The body ended before the compressed stream did.
        case truncated
    }

    /// zlib keeps the stream's address: it lives in its own allocation.
    private let stream: UnsafeMutablePointer<cnioextras_z_stream>
    private var isInitialized = false
    private(set) var isComplete = false

    /// `gzip` or `deflate` (zlib-wrapped, as RFC 9110 defines it; a gzip stream under the name is read too).
    init() throws(Failure) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: cnioextras_z_stream())
        // 15 + 32: the largest window, gzip or zlib header detected.
        guard CNIOExtrasZlib_inflateInit2(stream, 15 + 32) == CNIOEXTRAS_Z_OK else { throw .initialization }
        isInitialized = true
    }

    deinit {
        if isInitialized { cnioextras_z_inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// One compressed part in, every byte it decodes to out.
    func inflate(_ part: ByteBuffer) throws(Failure) -> ByteBuffer {
        var input = part
        guard input.readableBytes > 0 else { return ByteBuffer() }
        guard !isComplete else { throw .corrupt }
        var output = ByteBuffer()
        var failed = false
        var stalled = false
        input.withUnsafeMutableReadableBytes { pointer in
            stream.pointee.avail_in = UInt32(pointer.count)
            stream.pointee.next_in = CNIOExtrasZlib_voidPtr_to_BytefPtr(pointer.baseAddress!)
            defer {
                stream.pointee.avail_in = 0
                stream.pointee.next_in = nil
                stream.pointee.avail_out = 0
                stream.pointee.next_out = nil
            }
            while !isComplete, !failed, !stalled, stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0 {
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: max(16 * 1024, pointer.count * 2)) { out in
                    stream.pointee.avail_out = UInt32(out.count)
                    stream.pointee.next_out = CNIOExtrasZlib_voidPtr_to_BytefPtr(out.baseAddress!)
                    let code = cnioextras_z_inflate(stream, CNIOEXTRAS_Z_NO_FLUSH)
                    if code == CNIOEXTRAS_Z_STREAM_END {
                        isComplete = true
                    } else if code == CNIOEXTRAS_Z_BUF_ERROR {
                        // No progress possible: every input byte is in, the stream wants more.
                        stalled = true
                    } else if code != CNIOEXTRAS_Z_OK {
                        failed = true
                    }
                    return out.count - Int(stream.pointee.avail_out)
                }
                if stream.pointee.avail_in == 0, stream.pointee.avail_out > 0 { break }
            }
            if isComplete, stream.pointee.avail_in > 0 { failed = true }
        }
        if failed { throw .corrupt }
        return output
    }

    /// The body ended: it must have ended the compressed stream too.
    func finish() throws(Failure) {
        guard isComplete else { throw .truncated }
    }
}
