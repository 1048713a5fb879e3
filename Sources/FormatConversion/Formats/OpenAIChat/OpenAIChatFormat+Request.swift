extension OpenAIChatFormat {
    private static let knownRequestKeys: Set<String> = [
        "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "temperature", "top_p", "max_tokens",
        "max_completion_tokens", "stop", "response_format", "stream", "stream_options",
    ]

    public static func decodeRequest(_ body: JSONObject, call: ChatCall, dropped: inout DroppedFeatures) throws(ConversionFailure) -> ChatRequest {
        var request = ChatRequest(model: try body.string("model"))
        for key in body.unknownKeys(knownRequestKeys) { dropped.add(key) }
        guard let messages = try body.array("messages", required: true) else { throw .field("messages", "is required") }
        var callNames: [String: String] = [:]
        for (position, entry) in messages.enumerated() {
            guard let message = entry.object else { throw .field("messages[\(position)]", "must be an object") }
            switch try message.string("role", required: true) {
            case "system"?, "developer"?:
                request.system.append(try text(of: message["content"], field: "messages[\(position)].content"))
            case "user"?:
                let parts = try OpenAIContentParts.chat.parts(message["content"], field: "messages[\(position)].content", dropped: &dropped)
                request.messages.append(ChatMessage(role: .user, parts: parts))
            case "assistant"?:
                var parts: [MessagePart] = []
                if let content = message["content"], !content.isNull {
                    let text = try text(of: content, field: "messages[\(position)].content")
                    if !text.isEmpty { parts.append(.text(text)) }
                }
                for call in try message.array("tool_calls") ?? [] {
                    guard let function = call["function"]?.object, let name = function["name"]?.string else {
                        throw .field("messages[\(position)].tool_calls", "needs function.name")
                    }
                    let id = call["id"]?.string ?? "call_\(position)_\(parts.count)"
                    callNames[id] = name
                    parts.append(.toolCall(ToolCall(id: id, name: name, arguments: function["arguments"]?.string ?? "{}")))
                }
                if message["refusal"]?.string != nil { dropped.add("assistant refusal") }
                request.messages.append(ChatMessage(role: .assistant, parts: parts))
            case "tool"?:
                let id = try message.string("tool_call_id", required: true) ?? ""
                let content = try text(of: message["content"], field: "messages[\(position)].content")
                let part = MessagePart.toolResult(ToolResult(callID: id, name: callNames[id], content: content))
                // Consecutive tool messages answer one turn's parallel calls: keep them in one tool turn.
                if let last = request.messages.indices.last, request.messages[last].role == .tool {
                    request.messages[last].parts.append(part)
                } else {
                    request.messages.append(ChatMessage(role: .tool, parts: [part]))
                }
            case let other:
                dropped.add("message role '\(other ?? "")'")
            }
        }
        for (position, tool) in (try body.array("tools") ?? []).enumerated() {
            guard tool["type"]?.string == "function" || tool["type"] == nil, let function = tool["function"]?.object else {
                dropped.add("tool of type '\(tool["type"]?.string ?? "?")'")
                continue
            }
            guard let name = function["name"]?.string else { throw .field("tools[\(position)].function.name", "is required") }
            request.tools.append(ToolDefinition(name: name, description: function["description"]?.string, parameters: function["parameters"]))
        }
        request.toolChoice = toolChoice(body["tool_choice"])
        request.parallelToolCalls = try body.flag("parallel_tool_calls")
        request.temperature = try body.number("temperature")
        request.topP = try body.number("top_p")
        let maxCompletion = try body.integer("max_completion_tokens")
        let maxTokens = try body.integer("max_tokens")
        request.maxOutputTokens = maxCompletion ?? maxTokens
        switch body["stop"] {
        case .string(let stop)?: request.stop = [stop]
        case .array(let stops)?: request.stop = stops.compactMap(\.string)
        default: break
        }
        if let format = try body.objectValue("response_format") {
            switch format["type"]?.string {
            case "json_object"?: request.responseFormat = .jsonObject
            case "json_schema"?:
                let schema = format["json_schema"]?.object
                request.responseFormat = .jsonSchema(
                    name: schema?["name"]?.string ?? "response", schema: schema?["schema"] ?? .object(JSONObject()),
                    strict: schema?["strict"]?.bool)
            default: request.responseFormat = .text
            }
        }
        request.stream = try body.flag("stream") ?? false
        return request
    }

    private static func mentionsJSON(_ request: ChatRequest) -> Bool {
        request.system.contains { $0.lowercased().contains("json") } || request.messages.contains { $0.text.lowercased().contains("json") }
    }

    /// `stream_options.include_usage`, which only the stream encoder needs.
    static func includesUsage(_ body: JSONObject) -> Bool {
        body["stream_options"]?["include_usage"]?.bool ?? false
    }

    private static func toolChoice(_ value: JSONValue?) -> ToolChoice? {
        switch value {
        case .string("auto")?: .auto
        case .string("none")?: ToolChoice.none
        case .string("required")?: .required
        case .object(let choice)?: choice["function"]?["name"]?.string.map(ToolChoice.function)
        default: nil
        }
    }

    private static func text(of content: JSONValue?, field: String) throws(ConversionFailure) -> String {
        switch content {
        case nil, .null?: return ""
        case .string(let text)?: return text
        case .array(let parts)?: return parts.compactMap { $0["text"]?.string }.joined()
        default: throw .field(field, "must be a string or an array of parts")
        }
    }

    public static func encodeRequest(_ request: ChatRequest, dropped: inout DroppedFeatures) throws(ConversionFailure) -> UpstreamRequest {
        var body = JSONObject()
        body.set("model", request.model.map(JSONValue.string))
        var messages: [JSONValue] = request.system.map { .object(JSONObject([("role", "system"), ("content", .string($0))])) }
        // OpenAI refuses JSON mode unless the messages say "json" somewhere; Gemini's JSON mode has no such rule.
        if request.responseFormat == .jsonObject, !mentionsJSON(request) {
            messages.insert(.object(JSONObject([("role", "system"), ("content", "Answer in JSON.")])), at: 0)
        }
        for message in request.messages {
            switch message.role {
            case .user: messages.append(.object(JSONObject([("role", "user"), ("content", userContent(message.parts))])))
            case .assistant:
                var entry = JSONObject([("role", "assistant")])
                let text = message.text
                entry["content"] = text.isEmpty ? .null : .string(text)
                let calls = message.parts.compactMap { part -> JSONValue? in
                    guard case .toolCall(let call) = part else { return nil }
                    return toolCallJSON(call)
                }
                if !calls.isEmpty { entry["tool_calls"] = .array(calls) }
                messages.append(.object(entry))
            case .tool:
                for case .toolResult(let result) in message.parts {
                    messages.append(.object(JSONObject([
                        ("role", "tool"), ("tool_call_id", .string(result.callID)), ("content", .string(result.content)),
                    ])))
                }
            }
        }
        body["messages"] = .array(messages)
        if !request.tools.isEmpty {
            body["tools"] = .array(request.tools.map { tool in
                var function = JSONObject([("name", .string(tool.name))])
                function.set("description", tool.description.map(JSONValue.string))
                function["parameters"] = tool.parameters ?? .object(JSONObject([("type", "object"), ("properties", .object(JSONObject()))]))
                return .object(JSONObject([("type", "function"), ("function", .object(function))]))
            })
        }
        switch request.toolChoice {
        case .auto?: body["tool_choice"] = "auto"
        case .none?: body["tool_choice"] = "none"
        case .required?: body["tool_choice"] = "required"
        case .function(let name)?:
            body["tool_choice"] = .object(JSONObject([("type", "function"), ("function", .object(JSONObject([("name", .string(name))])))]))
        case nil: break
        }
        if !request.tools.isEmpty { body.set("parallel_tool_calls", request.parallelToolCalls.map(JSONValue.bool)) }
        body.set("temperature", request.temperature.map(JSONValue.number))
        body.set("top_p", request.topP.map(JSONValue.number))
        body.set("max_tokens", request.maxOutputTokens.map(JSONValue.int))
        if !request.stop.isEmpty { body["stop"] = .array(request.stop.map(JSONValue.string)) }
        switch request.responseFormat {
        case .jsonObject?: body["response_format"] = .object(JSONObject([("type", "json_object")]))
        case .jsonSchema(let name, let schema, let strict)?:
            var format = JSONObject([("name", .string(name)), ("schema", schema)])
            format.set("strict", strict.map(JSONValue.bool))
            body["response_format"] = .object(JSONObject([("type", "json_schema"), ("json_schema", .object(format))]))
        case .text?, nil: break
        }
        if request.stream {
            body["stream"] = true
            // Usage arrives in a last chunk only when asked for; the rotator always wants it.
            body["stream_options"] = .object(JSONObject([("include_usage", true)]))
        }
        return UpstreamRequest(path: "/v1/chat/completions", body: JSONWriter.bytes(.object(body)), streams: request.stream)
    }

    static func toolCallJSON(_ call: ToolCall) -> JSONValue {
        .object(JSONObject([
            ("id", .string(call.id)), ("type", "function"),
            ("function", .object(JSONObject([("name", .string(call.name)), ("arguments", .string(call.arguments))]))),
        ]))
    }

    private static func userContent(_ parts: [MessagePart]) -> JSONValue {
        if parts.count == 1, case .text(let text) = parts[0] { return .string(text) }
        return .array(parts.compactMap { part -> JSONValue? in
            switch part {
            case .text(let text): return .object(JSONObject([("type", "text"), ("text", .string(text))]))
            case .image(let image):
                return .object(JSONObject([("type", "image_url"), ("image_url", .object(JSONObject([("url", .string(image.urlOrDataURI))])))]))
            case .toolCall, .toolResult: return nil
            }
        })
    }
}
