extension OpenAIChatFormat {
    public static func decodeResponse(_ body: JSONValue, dropped: inout DroppedFeatures) throws(ConversionFailure) -> ChatResponse {
        guard let choices = body["choices"]?.array else { throw ConversionFailure(status: 502, "The upstream answer has no 'choices'.") }
        if choices.count > 1 { dropped.add("choices after the first") }
        var parts: [MessagePart] = []
        let message = choices.first?["message"]
        if let text = message?["content"]?.string, !text.isEmpty { parts.append(.text(text)) }
        if let refusal = message?["refusal"]?.string, !refusal.isEmpty { parts.append(.text(refusal)) }
        for call in message?["tool_calls"]?.array ?? [] {
            guard let name = call["function"]?["name"]?.string else { continue }
            parts.append(.toolCall(ToolCall(
                id: call["id"]?.string ?? "call_\(parts.count)", name: name,
                arguments: call["function"]?["arguments"]?.string ?? "{}")))
        }
        return ChatResponse(
            id: body["id"]?.string ?? "chatcmpl", model: body["model"]?.string ?? "", parts: parts,
            finishReason: finishReason(choices.first?["finish_reason"]?.string), usage: usage(body["usage"]),
            created: body["created"]?.int)
    }

    public static func encodeResponse(_ response: ChatResponse, context: ResponseContext, dropped: inout DroppedFeatures) -> JSONValue {
        var message = JSONObject([("role", "assistant")])
        let text = response.text
        message["content"] = text.isEmpty && !response.toolCalls.isEmpty ? .null : .string(text)
        if !response.toolCalls.isEmpty { message["tool_calls"] = .array(response.toolCalls.map(toolCallJSON)) }
        if case .other(let reason)? = response.finishReason { dropped.add("finish reason '\(reason)'") }
        var body = JSONObject([
            ("id", .string(response.id)), ("object", "chat.completion"), ("created", .int(response.created ?? context.created)),
            ("model", .string(response.model)),
            ("choices", .array([.object(JSONObject([
                ("index", 0), ("message", .object(message)), ("logprobs", .null),
                ("finish_reason", response.finishReason.map { .string(finishReason($0)) } ?? "stop"),
            ]))])),
        ])
        body.set("usage", response.usage.map(encodeUsage))
        return .object(body)
    }
}
