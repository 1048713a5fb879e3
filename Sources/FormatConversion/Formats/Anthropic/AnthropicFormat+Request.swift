extension AnthropicFormat {
    private static let knownRequestKeys: Set<String> = [
        "model", "messages", "system", "max_tokens", "tools", "tool_choice", "temperature", "top_p", "stop_sequences", "stream",
        "output_config", "output_format",
    ]

    public static func decodeRequest(_ body: JSONObject, call: ChatCall, dropped: inout DroppedFeatures) throws(ConversionFailure) -> ChatRequest {
        var request = ChatRequest(model: try body.string("model"))
        for key in body.unknownKeys(knownRequestKeys) { dropped.add(key) }
        switch body["system"] {
        case .string(let text)?: request.system = [text]
        case .array(let blocks)?: request.system = blocks.compactMap { $0["text"]?.string }
        case nil, .null?: break
        default: throw .field("system", "must be a string or an array of text blocks")
        }
        guard let messages = try body.array("messages", required: true) else { throw .field("messages", "is required") }
        for (position, entry) in messages.enumerated() {
            guard let message = entry.object else { throw .field("messages[\(position)]", "must be an object") }
            let role = try message.string("role", required: true)
            let blocks: [JSONValue]
            switch message["content"] {
            case .string(let text)?: blocks = [.object(JSONObject([("type", "text"), ("text", .string(text))]))]
            case .array(let array)?: blocks = array
            default: throw .field("messages[\(position)].content", "must be a string or an array of blocks")
            }
            var parts: [MessagePart] = []
            var results: [MessagePart] = []
            for block in blocks {
                switch block["type"]?.string {
                case "text"?: parts.append(.text(block["text"]?.string ?? ""))
                case "image"?:
                    let source = block["source"]
                    switch source?["type"]?.string {
                    case "base64"?:
                        parts.append(.image(.base64(mediaType: source?["media_type"]?.string ?? "image/png", data: source?["data"]?.string ?? "")))
                    case "url"?:
                        guard let url = source?["url"]?.string else { throw .field("messages[\(position)].content.source.url", "is required") }
                        parts.append(.image(.url(url)))
                    default: dropped.add("image source '\(source?["type"]?.string ?? "?")'")
                    }
                case "tool_use"?:
                    guard let id = block["id"]?.string, let name = block["name"]?.string else {
                        throw .field("messages[\(position)].content.tool_use", "needs id and name")
                    }
                    parts.append(.toolCall(ToolCall(id: id, name: name, arguments: ToolArguments.text(block["input"]))))
                case "tool_result"?:
                    guard let id = block["tool_use_id"]?.string else { throw .field("messages[\(position)].content.tool_use_id", "is required") }
                    let content: String
                    switch block["content"] {
                    case .string(let text)?: content = text
                    case .array(let inner)?:
                        if inner.contains(where: { $0["type"]?.string != "text" }) { dropped.add("non-text tool_result content") }
                        content = inner.compactMap { $0["text"]?.string }.joined()
                    default: content = ""
                    }
                    let name = request.messages.lazy.reversed().flatMap(\.parts).compactMap { part -> String? in
                        if case .toolCall(let call) = part, call.id == id { return call.name }
                        return nil
                    }.first
                    results.append(.toolResult(ToolResult(callID: id, name: name, content: content, isError: block["is_error"]?.bool ?? false)))
                case let other: dropped.add("content block '\(other ?? "?")'")
                }
            }
            // Tool results ride in a user turn here; the model keeps them as their own turn, before the user's text.
            if !results.isEmpty { request.messages.append(ChatMessage(role: .tool, parts: results)) }
            if role == "assistant" {
                request.messages.append(ChatMessage(role: .assistant, parts: parts))
            } else if !parts.isEmpty || results.isEmpty {
                request.messages.append(ChatMessage(role: .user, parts: parts))
            }
        }
        for (position, tool) in (try body.array("tools") ?? []).enumerated() {
            if let type = tool["type"]?.string, type != "custom" {
                dropped.add("tool of type '\(type)'")
                continue
            }
            guard let name = tool["name"]?.string else { throw .field("tools[\(position)].name", "is required") }
            request.tools.append(ToolDefinition(name: name, description: tool["description"]?.string, parameters: tool["input_schema"]))
        }
        if let choice = try body.objectValue("tool_choice") {
            switch choice["type"]?.string {
            case "auto"?: request.toolChoice = .auto
            case "any"?: request.toolChoice = .required
            case "none"?: request.toolChoice = ToolChoice.none
            case "tool"?: request.toolChoice = choice["name"]?.string.map(ToolChoice.function)
            default: break
            }
            if choice["disable_parallel_tool_use"]?.bool == true { request.parallelToolCalls = false }
        }
        request.temperature = try body.number("temperature")
        request.topP = try body.number("top_p")
        request.maxOutputTokens = try body.integer("max_tokens")
        request.stop = (try body.array("stop_sequences") ?? []).compactMap(\.string)
        request.stream = try body.flag("stream") ?? false
        // Structured outputs: `output_config.format` with a JSON schema (`output_format` in the beta that came first,
        // `structured-outputs-2025-11-13`, which clients such as pydantic-ai still send).
        let configured = try body.objectValue("output_config")?["format"]
        let beta = try body.objectValue("output_format").map(JSONValue.object)
        if let format = configured ?? beta, format["type"]?.string == "json_schema" {
            request.responseFormat = .jsonSchema(name: "response", schema: format["schema"] ?? .object(JSONObject()), strict: nil)
        }
        return request
    }

    public static func encodeRequest(_ request: ChatRequest, dropped: inout DroppedFeatures) throws(ConversionFailure) -> UpstreamRequest {
        var body = JSONObject()
        body.set("model", request.model.map(JSONValue.string))
        body["max_tokens"] = .int(request.maxOutputTokens ?? defaultMaxTokens)
        if request.system.count == 1 {
            body["system"] = .string(request.system[0])
        } else if !request.system.isEmpty {
            body["system"] = .array(request.system.map { .object(JSONObject([("type", "text"), ("text", .string($0))])) })
        }
        // Anthropic wants user and assistant turns alternating: tool results join the user turn that follows.
        var turns = AlternatingTurns()
        for message in request.messages {
            turns.append(role: message.role == .assistant ? "assistant" : "user", message.parts.compactMap { block(for: $0, dropped: &dropped) })
        }
        body["messages"] = turns.json(itemsKey: "content")
        if !request.tools.isEmpty {
            body["tools"] = .array(request.tools.map { tool in
                var entry = JSONObject([("name", .string(tool.name))])
                entry.set("description", tool.description.map(JSONValue.string))
                entry["input_schema"] = tool.parameters ?? .object(JSONObject([("type", "object"), ("properties", .object(JSONObject()))]))
                return .object(entry)
            })
        }
        var choice: JSONObject? = switch request.toolChoice {
        case .auto?: JSONObject([("type", "auto")])
        case .required?: JSONObject([("type", "any")])
        case .none?: JSONObject([("type", "none")])
        case .function(let name)?: JSONObject([("type", "tool"), ("name", .string(name))])
        case nil: nil
        }
        if request.parallelToolCalls == false, !request.tools.isEmpty {
            if choice == nil { choice = JSONObject([("type", "auto")]) }
            if choice?["type"] != "none" { choice?["disable_parallel_tool_use"] = true }
        }
        if !request.tools.isEmpty || request.toolChoice == ToolChoice.none { body.set("tool_choice", choice.map(JSONValue.object)) }
        if let temperature = request.temperature {
            if temperature > 1 { dropped.add("temperature above 1 (clamped to 1)") }
            body["temperature"] = .number(min(temperature, 1))
        }
        body.set("top_p", request.topP.map(JSONValue.number))
        if !request.stop.isEmpty { body["stop_sequences"] = .array(request.stop.map(JSONValue.string)) }
        switch request.responseFormat {
        case .jsonSchema(_, let schema, _)?:
            let format = JSONObject([("type", "json_schema"), ("schema", AnthropicSchema.sanitize(schema, dropped: &dropped))])
            body["output_config"] = .object(JSONObject([("format", .object(format))]))
        case .jsonObject?:
            // Its only structured output is a schema, and a schema-less object would have to be `{}` (every object closed).
            dropped.add("JSON mode without a schema (Anthropic's output_config.format needs one)")
        case .text?, nil: break
        }
        if request.stream { body["stream"] = true }
        return UpstreamRequest(
            path: "/v1/messages", body: JSONWriter.bytes(.object(body)), streams: request.stream,
            headers: ["content-type": "application/json", "anthropic-version": apiVersion])
    }

    static func block(for part: MessagePart, dropped: inout DroppedFeatures) -> JSONValue? {
        switch part {
        case .text(let text):
            return text.isEmpty ? nil : .object(JSONObject([("type", "text"), ("text", .string(text))]))
        case .image(.base64(let mediaType, let data)):
            return .object(JSONObject([
                ("type", "image"),
                ("source", .object(JSONObject([("type", "base64"), ("media_type", .string(mediaType)), ("data", .string(data))]))),
            ]))
        case .image(.url(let url)):
            return .object(JSONObject([("type", "image"), ("source", .object(JSONObject([("type", "url"), ("url", .string(url))])))]))
        case .toolCall(let call):
            return .object(JSONObject([
                ("type", "tool_use"), ("id", .string(call.id)), ("name", .string(call.name)),
                ("input", ToolArguments.object(call.arguments, dropped: &dropped)),
            ]))
        case .toolResult(let result):
            var entry = JSONObject([("type", "tool_result"), ("tool_use_id", .string(result.callID)), ("content", .string(result.content))])
            if result.isError { entry["is_error"] = true }
            return .object(entry)
        }
    }
}
