/// OpenAI Chat Completions (`/v1/chat/completions`): the `openai` client format and the `openai_compatible`
/// upstream format (OpenAI, OpenRouter, DeepSeek, vLLM...).
public enum OpenAIChatFormat: ClientWireFormat, UpstreamWireFormat {
    public static let modelsPath = "/v1/models"

    public static func encodeError(_ error: UpstreamError) -> JSONValue {
        OpenAIErrorShape.encode(error)
    }

    public static func decodeError(status: Int, body: JSONValue?, retryAfterSeconds: Int?) -> UpstreamError {
        OpenAIErrorShape.decode(status: status, body: body, retryAfterSeconds: retryAfterSeconds)
    }

    public static func encodeModels(_ models: [ModelInfo]) -> JSONValue {
        .object(JSONObject([
            ("object", "list"),
            ("data", .array(models.map { model in
                .object(JSONObject([
                    ("id", .string(model.id)), ("object", "model"), ("created", .int(model.created ?? 0)), ("owned_by", "system"),
                ]))
            })),
        ]))
    }

    public static func decodeModels(_ body: JSONValue) throws(ConversionFailure) -> [ModelInfo] {
        guard let data = body["data"]?.array else { throw ConversionFailure(status: 502, "The upstream model list has no 'data' array.") }
        return data.compactMap { entry in
            entry["id"]?.string.map { ModelInfo(id: $0, created: entry["created"]?.int) }
        }
    }

    public static func makeStreamEncoder(_ options: ClientStreamOptions) -> any ClientStreamEncoder {
        OpenAIChatStreamEncoder(options: options)
    }

    public static func makeStreamDecoder() -> any UpstreamStreamDecoder {
        OpenAIChatStreamDecoder()
    }

    static func finishReason(_ reason: FinishReason) -> String {
        switch reason {
        case .stop: "stop"
        case .length: "length"
        case .toolCalls: "tool_calls"
        case .contentFilter: "content_filter"
        case .other: "stop"
        }
    }

    static func finishReason(_ text: String?) -> FinishReason? {
        switch text {
        case nil: nil
        case "stop"?: .stop
        case "length"?: .length
        case "tool_calls"?, "function_call"?: .toolCalls
        case "content_filter"?: .contentFilter
        case let other?: .other(other)
        }
    }

    static func usage(_ value: JSONValue?) -> TokenUsage? {
        guard let value, let input = value["prompt_tokens"]?.int else { return nil }
        return TokenUsage(inputTokens: input, outputTokens: value["completion_tokens"]?.int ?? 0,
                          cachedTokens: value["prompt_tokens_details"]?["cached_tokens"]?.int ?? 0)
    }

    static func encodeUsage(_ usage: TokenUsage) -> JSONValue {
        .object(JSONObject([
            ("prompt_tokens", .int(usage.inputTokens)), ("completion_tokens", .int(usage.outputTokens)),
            ("total_tokens", .int(usage.totalTokens)),
        ]))
    }
}
