/// `{"error":{"message","type","param","code"}}`: OpenAI's error body, shared by Chat Completions and Responses.
enum OpenAIErrorShape {
    /// OpenAI's own values: a refused key is `invalid_request_error` with code `invalid_api_key`, server trouble
    /// `server_error`. `error.code`, when set, is the code the client sees.
    static func encode(_ error: UpstreamError) -> JSONValue {
        let (type, code): (String, String?) = switch error.kind {
        case .invalidRequest: ("invalid_request_error", nil)
        case .authentication: ("invalid_request_error", "invalid_api_key")
        case .permission: ("permission_error", nil)
        case .notFound: ("invalid_request_error", "not_found")
        case .requestTooLarge: ("invalid_request_error", "request_too_large")
        case .rateLimited: ("rate_limit_error", "rate_limit_exceeded")
        case .overloaded: ("server_error", "overloaded")
        case .server, .unavailable: ("server_error", nil)
        // A 408 is the client's slowness; a 504 the upstream's.
        case .timeout: (error.status < 500 ? "invalid_request_error" : "server_error", nil)
        }
        return .object(JSONObject([
            ("error", .object(JSONObject([
                ("message", .string(error.message)), ("type", .string(type)), ("param", .null),
                ("code", (error.code ?? code).map { .string($0) } ?? .null),
            ]))),
        ]))
    }

    static func decode(status: Int, body: JSONValue?, retryAfterSeconds: Int?) -> UpstreamError {
        let error = body?["error"]
        let message = error?["message"]?.string ?? error?.string ?? "The upstream answered \(status)."
        return UpstreamError(status: status, message: message, retryAfterSeconds: retryAfterSeconds)
    }
}
