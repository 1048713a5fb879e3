import Foundation
import HTTPTypes
import Hummingbird

/// When the mock gzips an answer, as providers behind a CDN do: error answers whenever the request's
/// `Accept-Encoding` allows gzip, and every answer (whatever the request accepts) when it carries
/// `x-mock-gzip: always` (an upstream that ignores `Accept-Encoding: identity`).
enum ResponseCompression {
    static func shouldCompress(status: HTTPResponse.Status, requestHeaders: HTTPFields) -> Bool {
        guard status.code >= 200, status.code != 204, status.code != 304 else { return false }
        if requestHeaders[.xMockGzip]?.lowercased() == "always" { return true }
        return status.code >= 400 && Gzip.isAccepted(by: requestHeaders[.acceptEncoding])
    }

    /// The answer with its body gzipped whole (`Content-Encoding: gzip`, chunked).
    static func compressed(_ response: Response) -> Response {
        var response = response
        let original = response.body
        response.headers[.contentEncoding] = "gzip"
        response.headers[.contentLength] = nil
        response.headers[.vary] = "Accept-Encoding"
        response.body = ResponseBody { writer in
            let box = BodyCollector.Box()
            try await original.write(BodyCollector(box: box))
            try await writer.write(ByteBuffer(bytes: Gzip.compress(box.bytes)))
            try await writer.finish(nil)
        }
        return response
    }
}

/// A body writer that keeps what is written (to compress it whole).
private struct BodyCollector: ResponseBodyWriter {
    final class Box: @unchecked Sendable {
        // Written and read by the one task that writes the response, never concurrently.
        var bytes: [UInt8] = []
    }

    let box: Box

    mutating func write(_ buffer: ByteBuffer) async throws {
        box.bytes.append(contentsOf: buffer.readableBytesView)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
