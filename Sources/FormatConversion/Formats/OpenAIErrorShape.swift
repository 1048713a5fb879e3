/// `{"error":{"message","type","param","code"}}`: OpenAI's error body, shared by Chat Completions and Responses.
enum OpenAIErrorShape {
    static func encode(_ error: UpstreamError) -> JSONValue {
        let (type, code): (String, JSONValue) = switch error.kind {
        case .invalidRequest: ("invalid_request_error", .null)
        case .authentication: ("invalid_request_error", "invalid_api_key")
        case .permission: ("permission_error", .null)
        case .notFound: ("invalid_request_error", "not_found")
        case .requestTooLarge: ("invalid_request_error", "request_too_large")
        case .rateLimited: ("rate_limit_error", "rate_limit_exceeded")
        case .overloaded: ("server_error", "overloaded")
        case .server: ("server_error", .null)
        }
        return .object(JSONObject([
            ("error", .object(JSONObject([
                ("message", .string(error.message)), ("type", .string(type)), ("param", .null), ("code", code),
            ]))),
        ]))
    }

    static func decode(status: Int, body: JSONValue?, retryAfterSeconds: Int?) -> UpstreamError {
        let error = body?["error"]
        let message = error?["message"]?.string ?? error?.string ?? "The upstream answered \(status)."
        return UpstreamError(status: status, message: message, retryAfterSeconds: retryAfterSeconds)
    }
}
