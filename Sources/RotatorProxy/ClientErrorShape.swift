import NIOCore
import RotatorCore

import Foundation

/// Errors the proxy itself answers, in the shape the client's SDK parses for its format.
public enum ClientErrorShape {
    public enum Kind: Sendable {
        case authentication
        case rateLimited
        case notFound
        case invalidRequest
        case tooLarge
        case upstreamUnavailable
        case timeout

        var openAIType: String {
            switch self {
            case .authentication: return "authentication_error"
            case .rateLimited: return "rate_limit_error"
            case .notFound, .invalidRequest, .tooLarge: return "invalid_request_error"
            case .upstreamUnavailable, .timeout: return "api_error"
            }
        }

        var openAICode: String {
            switch self {
            case .authentication: return "invalid_api_key"
            case .rateLimited: return "rate_limit_exceeded"
            case .notFound: return "not_found"
            case .invalidRequest: return "invalid_request"
            case .tooLarge: return "request_too_large"
            case .upstreamUnavailable: return "upstream_unavailable"
            case .timeout: return "upstream_timeout"
            }
        }

        var anthropicType: String {
            switch self {
            case .authentication: return "authentication_error"
            case .rateLimited: return "rate_limit_error"
            case .notFound: return "not_found_error"
            case .invalidRequest: return "invalid_request_error"
            case .tooLarge: return "request_too_large"
            case .upstreamUnavailable, .timeout: return "api_error"
            }
        }

        var googleStatus: String {
            switch self {
            case .authentication: return "UNAUTHENTICATED"
            case .rateLimited: return "RESOURCE_EXHAUSTED"
            case .notFound: return "NOT_FOUND"
            case .invalidRequest, .tooLarge: return "INVALID_ARGUMENT"
            case .upstreamUnavailable: return "UNAVAILABLE"
            case .timeout: return "DEADLINE_EXCEEDED"
            }
        }
    }

    /// The JSON body for an error: OpenAI, Anthropic or Gemini shape on LLM routes; `{"error": msg}` on generic ones.
    public static func body(kind: Kind, status: Int, message: String, format: APIFormat?) -> ByteBuffer {
        let object: [String: Any]
        switch format {
        case .openAICompatible:
            object = ["error": ["message": message, "type": kind.openAIType, "code": kind.openAICode]]
        case .anthropicNative:
            object = ["type": "error", "error": ["type": kind.anthropicType, "message": message]]
        case .geminiNative:
            object = ["error": ["code": status, "message": message, "status": kind.googleStatus]]
        case nil:
            object = ["error": message]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }
}
