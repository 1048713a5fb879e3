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
        /// The client took too long to send its request (408).
        case requestTimeout

        var openAIType: String {
            switch self {
            case .authentication: return "authentication_error"
            case .rateLimited: return "rate_limit_error"
            case .notFound, .invalidRequest, .tooLarge, .requestTimeout: return "invalid_request_error"
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
            case .requestTimeout: return "request_timeout"
            }
        }

        var anthropicType: String {
            switch self {
            case .authentication: return "authentication_error"
            case .rateLimited: return "rate_limit_error"
            case .notFound: return "not_found_error"
            case .invalidRequest, .requestTimeout: return "invalid_request_error"
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
            case .timeout, .requestTimeout: return "DEADLINE_EXCEEDED"
            }
        }
    }

    /// The JSON body for an error: OpenAI, Anthropic or Gemini shape on LLM routes; `{"error": msg}` on generic ones.
    public static func body(kind: Kind, status: Int, message: String, format: APIFormat?) -> ByteBuffer {
        UpstreamDialect(format: format).errorBody(kind: kind, status: status, message: message)
    }
}
