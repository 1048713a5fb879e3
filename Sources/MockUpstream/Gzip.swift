import CNIOExtrasZlib
import Foundation

/// gzip (RFC 1952) of a whole body, with the zlib that swift-nio-extras vendors: what a CDN in front of a provider
/// does to its answers when the client accepts it.
enum Gzip {
    static func compress(_ bytes: [UInt8]) -> [UInt8] {
        // zlib keeps the stream's address: it lives in its own allocation.
        let stream = UnsafeMutablePointer<cnioextras_z_stream>.allocate(capacity: 1)
        stream.initialize(to: cnioextras_z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        // 16 + 15: a gzip wrapper around the largest window.
        guard CNIOExtrasZlib_deflateInit2(stream, 6, CNIOEXTRAS_Z_DEFLATED, 16 + 15, 8, CNIOEXTRAS_Z_DEFAULT_STRATEGY) == CNIOEXTRAS_Z_OK else {
            preconditionFailure("zlib could not start a deflate stream")
        }
        defer { cnioextras_z_deflateEnd(stream) }
        var input = bytes
        var output = [UInt8](repeating: 0, count: Int(cnioextras_z_deflateBound(stream, UInt(bytes.count))) + 32)
        let written = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.pointee.next_in = inBuffer.baseAddress
                stream.pointee.avail_in = UInt32(inBuffer.count)
                stream.pointee.next_out = outBuffer.baseAddress
                stream.pointee.avail_out = UInt32(outBuffer.count)
                let code = cnioextras_z_deflate(stream, CNIOEXTRAS_Z_FINISH)
                precondition(code == CNIOEXTRAS_Z_STREAM_END, "deflateBound leaves room for the whole stream")
                return outBuffer.count - Int(stream.pointee.avail_out)
            }
        }
        return Array(output.prefix(written))
    }

    /// Whether an `Accept-Encoding` value allows gzip (`gzip`, `x-gzip` or `*`, without `q=0`).
    static func isAccepted(by acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        for item in acceptEncoding.lowercased().split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let coding = parts.first, coding == "gzip" || coding == "x-gzip" || coding == "*" else { continue }
            let refused = parts.dropFirst().contains { ["q=0", "q=0.0", "q=0.00", "q=0.000"].contains($0.replacingOccurrences(of: " ", with: "")) }
            if !refused { return true }
        }
        return false
    }
}
