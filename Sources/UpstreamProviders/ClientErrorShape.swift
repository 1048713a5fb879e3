import FormatConversion
import NIOCore
import RotatorCore

/// Errors the proxy itself answers, in the shape the client's SDK parses for its format. Written by the same encoder
/// as a converted answer's errors (the client format's `ClientWireFormat.encodeError`), so one config answers one
/// client in one shape, whichever stage refused: OpenAI's `invalid_request_error`/`invalid_api_key` for a refused
/// key, Anthropic's `timeout_error`, Google's `UNAVAILABLE` when the upstream is down.
public enum ClientErrorShape {
    public enum Kind: Sendable {
        case authentication
        /// A client key that may not use this config or model (403).
        case permission
        case rateLimited
        case notFound
        case invalidRequest
        case tooLarge
        case upstreamUnavailable
        case timeout
        /// The client took too long to send its request (408).
        case requestTimeout

        /// The error in no provider's shape, and the OpenAI code that tells the proxy's errors apart.
        var upstreamKind: (kind: UpstreamError.Kind, code: String?) {
            switch self {
            case .authentication: (.authentication, nil)
            case .permission: (.permission, nil)
            case .rateLimited: (.rateLimited, nil)
            case .notFound: (.notFound, nil)
            case .invalidRequest: (.invalidRequest, "invalid_request")
            case .tooLarge: (.requestTooLarge, nil)
            case .upstreamUnavailable: (.unavailable, "upstream_unavailable")
            case .timeout: (.timeout, "upstream_timeout")
            case .requestTimeout: (.timeout, "request_timeout")
            }
        }
    }

    /// The JSON body for an error: OpenAI, Anthropic or Gemini shape on LLM routes; `{"error": msg}` on generic ones.
    /// - Parameter retryAfter: seconds, for the shapes that carry a wait in the body (Gemini's `RetryInfo`).
    public static func body(kind: Kind, status: Int, message: String, format: APIFormat?, retryAfter: Int? = nil) -> ByteBuffer {
        ByteBuffer(bytes: bytes(kind: kind, status: status, message: message, format: format, retryAfter: retryAfter))
    }

    public static func bytes(kind: Kind, status: Int, message: String, format: APIFormat?, retryAfter: Int? = nil) -> [UInt8] {
        guard let shape = UpstreamDialect(format: format).provider.errorShape else {
            return JSONWriter.bytes(.object(JSONObject([("error", .string(message))])))
        }
        let (upstreamKind, code) = kind.upstreamKind
        return JSONWriter.bytes(shape.encodeError(UpstreamError(status: status, kind: upstreamKind, message: message, retryAfterSeconds: retryAfter, code: code)))
    }
}

extension OutputFormat {
    /// The format whose error shape this client's SDK parses (the proxy's own errors use it).
    public var errorShapeFormat: APIFormat {
        switch self {
        case .none, .openAI, .openAIResponses: .openAICompatible
        case .anthropic: .anthropicNative
        case .gemini: .geminiNative
        }
    }
}
