import Foundation
import Hummingbird
import RotatorHTTP

/// Reads an admin request body as JSON: 413 over the size limit, 400 for broken JSON, 422 for JSON of the wrong shape
/// or input that breaks its own rules (`AdminInput.validate()`).
enum AdminJSON {
    /// - Parameter whenEmpty: what an empty body means, for routes whose body is optional (nil: an empty body is refused).
    static func decode<T: AdminInput>(_ type: T.Type, from request: Request, context: RotatorRequestContext, whenEmpty: T? = nil) async throws -> T {
        let limit = context.maxUploadSize
        let body: ByteBuffer
        // A declared length over the limit is refused before a byte of the body is read.
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw APIError(.contentTooLarge, "request body exceeds \(limit) bytes")
        }
        do {
            body = try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "request body exceeds \(limit) bytes")
        }
        guard body.readableBytes > 0 else {
            if let whenEmpty { return whenEmpty }
            throw APIError.badRequest("request body is empty: send a JSON object")
        }
        let input: T
        do {
            input = try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            if case .dataCorrupted(let detail) = error, detail.codingPath.isEmpty {
                throw APIError.badRequest("request body is not valid JSON")
            }
            throw APIError.unprocessable(ErrorMiddleware<RotatorRequestContext>.describe(error))
        }
        try input.validate()
        return input
    }
}
