extension OpenAIResponsesFormat {
    private static let knownRequestKeys: Set<String> = [
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "temperature", "top_p",
        "max_output_tokens", "text", "stream",
    ]

    public static func decodeRequest(_ body: JSONObject, call: ChatCall, dropped: inout DroppedFeatures) throws(ConversionFailure) -> ChatRequest {
        var request = ChatRequest(model: try body.string("model"))
        for key in body.unknownKeys(knownRequestKeys) { dropped.add(key) }
        if let instructions = try body.string("instructions") { request.system.append(instructions) }
        switch body["input"] {
        case .string(let text)?:
            request.messages.append(ChatMessage(role: .user, parts: [.text(text)]))
        case .array(let items)?:
            for (position, item) in items.enumerated() {
                try append(item, position: position, to: &request, dropped: &dropped)
            }
        default:
            throw .field("input", "is required and must be a string or an array of items")
        }
        for (position, tool) in (try body.array("tools") ?? []).enumerated() {
            guard tool["type"]?.string == "function" else {
                dropped.add("tool of type '\(tool["type"]?.string ?? "?")'")
                continue
            }
            guard let name = tool["name"]?.string else { throw .field("tools[\(position)].name", "is required") }
            request.tools.append(ToolDefinition(name: name, description: tool["description"]?.string, parameters: tool["parameters"]))
        }
        switch body["tool_choice"] {
        case .string("auto")?: request.toolChoice = .auto
        case .string("none")?: request.toolChoice = ToolChoice.none
        case .string("required")?: request.toolChoice = .required
        case .object(let choice)? where choice["type"]?.string == "function": request.toolChoice = choice["name"]?.string.map(ToolChoice.function)
        default: break
        }
        request.parallelToolCalls = try body.flag("parallel_tool_calls")
        request.temperature = try body.number("temperature")
        request.topP = try body.number("top_p")
        request.maxOutputTokens = try body.integer("max_output_tokens")
        if let format = try body.objectValue("text")?["format"] {
            switch format["type"]?.string {
            case "json_object"?: request.responseFormat = .jsonObject
            case "json_schema"?:
                request.responseFormat = .jsonSchema(
                    name: format["name"]?.string ?? "response", schema: format["schema"] ?? .object(JSONObject()), strict: format["strict"]?.bool)
            default: break
            }
        }
        request.stream = try body.flag("stream") ?? false
        return request
    }

    private static func append(_ item: JSONValue, position: Int, to request: inout ChatRequest, dropped: inout DroppedFeatures) throws(ConversionFailure) {
        guard let object = item.object else { throw .field("input[\(position)]", "must be an object") }
        switch object["type"]?.string ?? "message" {
        case "message":
            let role = try object.string("role", required: true)
            let parts = try OpenAIContentParts.responses.parts(object["content"], field: "input[\(position)].content", dropped: &dropped)
            switch role {
            case "system"?, "developer"?:
                request.system.append(parts.compactMap { if case .text(let text) = $0 { text } else { nil } }.joined())
            case "assistant"?:
                request.messages.append(ChatMessage(role: .assistant, parts: parts))
            default:
                request.messages.append(ChatMessage(role: .user, parts: parts))
            }
        case "function_call":
            guard let id = object["call_id"]?.string, let name = object["name"]?.string else {
                throw .field("input[\(position)]", "function_call needs call_id and name")
            }
            let part = MessagePart.toolCall(ToolCall(id: id, name: name, arguments: object["arguments"]?.string ?? "{}"))
            // A run of function_call items is one assistant turn with parallel calls.
            if let last = request.messages.indices.last, request.messages[last].role == .assistant {
                request.messages[last].parts.append(part)
            } else {
                request.messages.append(ChatMessage(role: .assistant, parts: [part]))
            }
        case "function_call_output":
            guard let id = object["call_id"]?.string else { throw .field("input[\(position)].call_id", "is required") }
            let output: String = switch object["output"] {
            case .string(let text)?: text
            case .array(let parts)?: parts.compactMap { $0["text"]?.string }.joined()
            default: ""
            }
            let name = request.messages.lazy.reversed().flatMap(\.parts).compactMap { part -> String? in
                if case .toolCall(let call) = part, call.id == id { return call.name }
                return nil
            }.first
            let part = MessagePart.toolResult(ToolResult(callID: id, name: name, content: output))
            if let last = request.messages.indices.last, request.messages[last].role == .tool {
                request.messages[last].parts.append(part)
            } else {
                request.messages.append(ChatMessage(role: .tool, parts: [part]))
            }
        case let other:
            dropped.add("input item '\(other)'")
        }
    }
}
