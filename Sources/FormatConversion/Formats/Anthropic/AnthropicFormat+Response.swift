extension AnthropicFormat {
    public static func decodeResponse(_ body: JSONValue, dropped: inout DroppedFeatures) throws(ConversionFailure) -> ChatResponse {
        guard let content = body["content"]?.array else { throw ConversionFailure(status: 502, "The upstream answer has no 'content'.") }
        var parts: [MessagePart] = []
        for block in content {
            switch block["type"]?.string {
            case "text"?: parts.append(.text(block["text"]?.string ?? ""))
            case "tool_use"?:
                parts.append(.toolCall(ToolCall(
                    id: block["id"]?.string ?? "toolu_\(parts.count)", name: block["name"]?.string ?? "",
                    arguments: ToolArguments.text(block["input"]))))
            case let other: dropped.add("content block '\(other ?? "?")'")
            }
        }
        return ChatResponse(
            id: body["id"]?.string ?? "msg", model: body["model"]?.string ?? "", parts: parts,
            finishReason: finishReason(body["stop_reason"]?.string), usage: usage(body["usage"]))
    }

    public static func encodeResponse(_ response: ChatResponse, context: ResponseContext, dropped: inout DroppedFeatures) -> JSONValue {
        var ignored = DroppedFeatures()
        let content = response.parts.compactMap { block(for: $0, dropped: &ignored) }
        return .object(JSONObject([
            ("id", .string(response.id)), ("type", "message"), ("role", "assistant"), ("model", .string(response.model)),
            ("content", .array(content)),
            ("stop_reason", response.finishReason.map { .string(stopReason($0)) } ?? "end_turn"), ("stop_sequence", .null),
            ("usage", encodeUsage(response.usage ?? TokenUsage(inputTokens: 0, outputTokens: 0))),
        ]))
    }
}
