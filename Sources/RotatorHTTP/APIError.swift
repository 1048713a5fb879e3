import Hummingbird
import NIOCore

import Foundation

/// An error a handler throws to answer the client: a status and a message saying what to fix.
/// Rendered as `{"error": "..."}` unless the handler supplied a body in its client's own format.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    public var headers: HTTPFields
    /// A pre-rendered JSON body (LLM routes answer in their client format's error shape).
    public var body: ByteBuffer?

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:], body: ByteBuffer? = nil) {
        self.status = status
        self.message = message
        self.headers = headers
        self.body = body
    }

    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }
    public static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }
    public static func conflict(_ message: String) -> APIError { APIError(.conflict, message) }
    public static func unauthorized(_ message: String) -> APIError { APIError(.unauthorized, message) }
    public static func unprocessable(_ message: String) -> APIError { APIError(.unprocessableContent, message) }
    public static func unavailable(_ message: String) -> APIError { APIError(.serviceUnavailable, message) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        let body = self.body ?? JSONBody.error(message)
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}

/// Small JSON helpers shared by every route.
public enum JSONBody {
    public static func error(_ message: String) -> ByteBuffer {
        encode(["error": message])
    }

    public static func encode(_ value: some Encodable) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own plain response types cannot fail; fall back to an empty object rather than crash.
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }

    public static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: encode(value))
        )
    }
}
