/// Anthropic Messages (`/v1/messages`): the `anthropic` client format and the `anthropic_native` upstream format.
public enum AnthropicFormat: ClientWireFormat, UpstreamWireFormat {
    public static let modelsPath = "/v1/models"
    /// Anthropic requires `max_tokens`; used when the client's format left it out.
    public static let defaultMaxTokens = 4096
    /// The `anthropic-version` converted requests are written for.
    public static let apiVersion = "2023-06-01"

    public static func encodeError(_ error: UpstreamError) -> JSONValue {
        let type = switch error.kind {
        case .invalidRequest: "invalid_request_error"
        case .authentication: "authentication_error"
        case .permission: "permission_error"
        case .notFound: "not_found_error"
        case .requestTooLarge: "request_too_large"
        case .rateLimited: "rate_limit_error"
        case .overloaded: "overloaded_error"
        case .server, .unavailable: "api_error"
        // A 408 is the client's slowness; a 504 the upstream's.
        case .timeout: error.status < 500 ? "invalid_request_error" : "timeout_error"
        }
        return .object(JSONObject([
            ("type", "error"), ("error", .object(JSONObject([("type", .string(type)), ("message", .string(error.message))]))),
        ]))
    }

    public static func decodeError(status: Int, body: JSONValue?, retryAfterSeconds: Int?) -> UpstreamError {
        let error = body?["error"]
        let kind: UpstreamError.Kind? = switch error?["type"]?.string {
        case "authentication_error"?: .authentication
        case "permission_error"?: .permission
        case "not_found_error"?: .notFound
        case "request_too_large"?: .requestTooLarge
        case "rate_limit_error"?: .rateLimited
        case "overloaded_error"?: .overloaded
        case "api_error"?: .server
        case "timeout_error"?: .timeout
        case "invalid_request_error"?: .invalidRequest
        default: nil
        }
        return UpstreamError(
            status: status, kind: kind, message: error?["message"]?.string ?? "The upstream answered \(status).",
            retryAfterSeconds: retryAfterSeconds)
    }

    public static func encodeModels(_ models: [ModelInfo]) -> JSONValue {
        .object(JSONObject([
            ("data", .array(models.map { model in
                .object(JSONObject([
                    ("type", "model"), ("id", .string(model.id)), ("display_name", .string(model.displayName ?? model.id)),
                    ("created_at", .string(ISODate.string(epochSeconds: model.created ?? 0))),
                ]))
            })),
            ("has_more", false), ("first_id", models.first.map { .string($0.id) } ?? .null),
            ("last_id", models.last.map { .string($0.id) } ?? .null),
        ]))
    }

    public static func decodeModels(_ body: JSONValue) throws(ConversionFailure) -> [ModelInfo] {
        guard let data = body["data"]?.array else { throw ConversionFailure(status: 502, "The upstream model list has no 'data' array.") }
        return data.compactMap { entry in
            entry["id"]?.string.map {
                ModelInfo(id: $0, displayName: entry["display_name"]?.string, created: entry["created_at"]?.string.flatMap(ISODate.epochSeconds))
            }
        }
    }

    public static func makeStreamEncoder(_ options: ClientStreamOptions) -> any ClientStreamEncoder {
        AnthropicStreamEncoder()
    }

    public static func makeStreamDecoder() -> any UpstreamStreamDecoder {
        AnthropicStreamDecoder()
    }

    static func stopReason(_ reason: FinishReason) -> String {
        switch reason {
        case .stop: "end_turn"
        case .length: "max_tokens"
        case .toolCalls: "tool_use"
        case .contentFilter: "refusal"
        case .other(let text): text == "stop_sequence" || text == "pause_turn" ? text : "end_turn"
        }
    }

    static func finishReason(_ text: String?) -> FinishReason? {
        switch text {
        case nil: nil
        case "end_turn"?, "stop_sequence"?: .stop
        case "max_tokens"?: .length
        case "tool_use"?: .toolCalls
        case "refusal"?: .contentFilter
        case let other?: .other(other)
        }
    }

    /// Input tokens include cache reads and writes: they are all tokens the request was billed for.
    static func usage(_ value: JSONValue?) -> TokenUsage? {
        guard let value else { return nil }
        let input = (value["input_tokens"]?.int ?? 0) + (value["cache_read_input_tokens"]?.int ?? 0)
            + (value["cache_creation_input_tokens"]?.int ?? 0)
        return TokenUsage(inputTokens: input, outputTokens: value["output_tokens"]?.int ?? 0,
                          cachedTokens: value["cache_read_input_tokens"]?.int ?? 0)
    }

    static func encodeUsage(_ usage: TokenUsage) -> JSONValue {
        .object(JSONObject([("input_tokens", .int(usage.inputTokens)), ("output_tokens", .int(usage.outputTokens))]))
    }
}
