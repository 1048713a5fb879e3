import Hummingbird
import Logging

import Foundation

/// Turns every error into a JSON answer: ours keep their status and message, Hummingbird's keep their status,
/// decoding errors become 400 naming the field, anything else is a 500 that says nothing internal.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let message = error.body ?? Self.defaultMessage(for: error.status)
            return try APIError(error.status, message, headers: error.headers).response(from: request, context: context)
        } catch let error as DecodingError {
            return try APIError.badRequest(Self.describe(error)).response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            return try APIError(error.status, Self.defaultMessage(for: error.status)).response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error.type": "\(type(of: error))"])
            return try APIError(.internalServerError, "internal error").response(from: request, context: context)
        }
    }

    static func defaultMessage(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: return "no such route"
        case .methodNotAllowed: return "method not allowed on this route"
        case .contentTooLarge: return "request body too large"
        default: return status.reasonPhrase
        }
    }

    /// A message that names the offending field, so the client knows what to fix.
    public static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let joined = codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return joined.isEmpty ? "body" : "field '\(joined)'"
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(Self.typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(Self.typeName(type)), got null"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is required"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "request body is not valid JSON" }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "request body could not be decoded"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type: return "an integer"
        case is Double.Type: return "a number"
        default: return "a value of type \(type)"
        }
    }
}
