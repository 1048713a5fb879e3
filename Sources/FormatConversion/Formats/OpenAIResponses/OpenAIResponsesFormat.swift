/// OpenAI Responses (`/v1/responses`): the `openai_responses` client format. Stateless use only:
/// `previous_response_id` and stored conversations need OpenAI's server and are dropped.
public enum OpenAIResponsesFormat: ClientWireFormat {
    public static func encodeError(_ error: UpstreamError) -> JSONValue {
        OpenAIErrorShape.encode(error)
    }

    /// Responses clients list models at OpenAI's `/v1/models`; the route table answers them as `openai` ones.
    public static func encodeModels(_ models: [ModelInfo]) -> JSONValue {
        OpenAIChatFormat.encodeModels(models)
    }

    public static func makeStreamEncoder(_ options: ClientStreamOptions) -> any ClientStreamEncoder {
        OpenAIResponsesStreamEncoder(options: options)
    }

    static func usage(_ usage: TokenUsage) -> JSONValue {
        .object(JSONObject([
            ("input_tokens", .int(usage.inputTokens)), ("input_tokens_details", .object(JSONObject([("cached_tokens", 0)]))),
            ("output_tokens", .int(usage.outputTokens)), ("output_tokens_details", .object(JSONObject([("reasoning_tokens", 0)]))),
            ("total_tokens", .int(usage.totalTokens)),
        ]))
    }

    /// `status` and `incomplete_details` of a finished response.
    static func status(_ reason: FinishReason?) -> (status: String, incomplete: JSONValue) {
        switch reason {
        case .length?: ("incomplete", .object(JSONObject([("reason", "max_output_tokens")])))
        case .contentFilter?: ("incomplete", .object(JSONObject([("reason", "content_filter")])))
        default: ("completed", .null)
        }
    }

    static func messageItem(id: String, text: String, status: String) -> JSONValue {
        .object(JSONObject([
            ("type", "message"), ("id", .string(id)), ("status", .string(status)), ("role", "assistant"),
            ("content", .array(status == "in_progress" ? [] : [outputText(text)])),
        ]))
    }

    static func outputText(_ text: String) -> JSONValue {
        .object(JSONObject([("type", "output_text"), ("text", .string(text)), ("annotations", .array([]))]))
    }

    static func functionCallItem(_ call: ToolCall, itemID: String, status: String) -> JSONValue {
        .object(JSONObject([
            ("type", "function_call"), ("id", .string(itemID)), ("call_id", .string(call.id)), ("name", .string(call.name)),
            ("arguments", .string(call.arguments)), ("status", .string(status)),
        ]))
    }

    /// The whole response object, as `POST /v1/responses` answers and `response.completed` carries.
    static func responseObject(
        id: String, model: String, created: Int, output: [JSONValue], finishReason: FinishReason?, usage: TokenUsage?, inProgress: Bool = false
    ) -> JSONValue {
        let (status, incomplete) = inProgress ? ("in_progress", .null) : Self.status(finishReason)
        var body = JSONObject([
            ("id", .string(id)), ("object", "response"), ("created_at", .int(created)), ("status", .string(status)),
            ("error", .null), ("incomplete_details", incomplete), ("model", .string(model)), ("output", .array(output)),
            ("parallel_tool_calls", true), ("tool_choice", "auto"), ("tools", .array([])),
        ])
        body["usage"] = usage.map(Self.usage) ?? .null
        return .object(body)
    }
}
