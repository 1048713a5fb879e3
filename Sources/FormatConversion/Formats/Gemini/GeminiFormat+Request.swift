extension GeminiFormat {
    private static let knownRequestKeys: Set<String> = [
        "contents", "systemInstruction", "system_instruction", "tools", "toolConfig", "tool_config", "generationConfig",
        "generation_config", "model",
    ]
    private static let knownGenerationKeys: Set<String> = [
        "temperature", "topP", "top_p", "maxOutputTokens", "max_output_tokens", "stopSequences", "stop_sequences",
        "responseMimeType", "response_mime_type", "responseSchema", "response_schema", "responseJsonSchema", "response_json_schema",
    ]

    public static func decodeRequest(_ body: JSONObject, call: ChatCall, dropped: inout DroppedFeatures) throws(ConversionFailure) -> ChatRequest {
        var request = ChatRequest(model: call.pathModel ?? body["model"]?.string.map { $0.hasPrefix("models/") ? String($0.dropFirst(7)) : $0 })
        request.stream = call.pathStreams ?? false
        for key in body.unknownKeys(knownRequestKeys) { dropped.add(key) }
        if let system = body[either: "systemInstruction", "system_instruction"] {
            let text = (system["parts"]?.array ?? []).compactMap { $0["text"]?.string }.joined()
            if !text.isEmpty { request.system = [text] }
        }
        guard let contents = body["contents"]?.array else { throw .field("contents", "is required and must be an array") }
        // Gemini has no call ids (or optional ones): calls get `call_N` and each result pairs with the oldest
        // unanswered call of its function's name.
        var unanswered: [(id: String, name: String)] = []
        var callCount = 0
        for (position, entry) in contents.enumerated() {
            guard let content = entry.object, let parts = content["parts"]?.array else {
                throw .field("contents[\(position)].parts", "is required and must be an array")
            }
            let isModel = content["role"]?.string == "model"
            var messageParts: [MessagePart] = []
            var results: [MessagePart] = []
            for part in parts {
                if let text = part["text"]?.string {
                    if part["thought"]?.bool == true { dropped.add("thought parts"); continue }
                    messageParts.append(.text(text))
                } else if let inline = part[either: "inlineData", "inline_data"] {
                    messageParts.append(.image(.base64(
                        mediaType: inline[either: "mimeType", "mime_type"]?.string ?? "image/png", data: inline["data"]?.string ?? "")))
                } else if let file = part[either: "fileData", "file_data"], let uri = file[either: "fileUri", "file_uri"]?.string {
                    messageParts.append(.image(.url(uri)))
                } else if let function = part[either: "functionCall", "function_call"] {
                    guard let name = function["name"]?.string else { throw .field("contents[\(position)].parts.functionCall.name", "is required") }
                    let id = function["id"]?.string ?? "call_\(callCount)"
                    callCount += 1
                    unanswered.append((id, name))
                    messageParts.append(.toolCall(ToolCall(id: id, name: name, arguments: ToolArguments.text(function["args"]))))
                } else if let response = part[either: "functionResponse", "function_response"] {
                    guard let name = response["name"]?.string else {
                        throw .field("contents[\(position)].parts.functionResponse.name", "is required")
                    }
                    let id: String
                    if let given = response["id"]?.string {
                        id = given
                        unanswered.removeAll { $0.id == given }
                    } else if let match = unanswered.firstIndex(where: { $0.name == name }) {
                        id = unanswered.remove(at: match).id
                    } else {
                        id = "call_\(name)"
                    }
                    results.append(.toolResult(ToolResult(callID: id, name: name, content: ToolArguments.text(response["response"]))))
                } else {
                    dropped.add("part '\(part.object?.keys.first ?? "?")'")
                }
            }
            if !results.isEmpty { request.messages.append(ChatMessage(role: .tool, parts: results)) }
            if isModel {
                request.messages.append(ChatMessage(role: .assistant, parts: messageParts))
            } else if !messageParts.isEmpty || results.isEmpty {
                request.messages.append(ChatMessage(role: .user, parts: messageParts))
            }
        }
        for tool in body["tools"]?.array ?? [] {
            guard let declarations = tool[either: "functionDeclarations", "function_declarations"]?.array else {
                dropped.add("tool '\(tool.object?.keys.first ?? "?")'")
                continue
            }
            for declaration in declarations {
                guard let name = declaration["name"]?.string else { throw .field("tools.functionDeclarations.name", "is required") }
                request.tools.append(ToolDefinition(
                    name: name, description: declaration["description"]?.string,
                    parameters: declaration[either: "parameters", "parametersJsonSchema", "parameters_json_schema"].map(lowercasedTypes)))
            }
        }
        if let config = body[either: "toolConfig", "tool_config"]?[either: "functionCallingConfig", "function_calling_config"] {
            let allowed = config[either: "allowedFunctionNames", "allowed_function_names"]?.array?.compactMap(\.string) ?? []
            switch config["mode"]?.string {
            case "AUTO"?: request.toolChoice = .auto
            case "NONE"?: request.toolChoice = ToolChoice.none
            case "ANY"?: request.toolChoice = allowed.count == 1 ? .function(allowed[0]) : .required
            default: break
            }
        }
        if let generation = body[either: "generationConfig", "generation_config"]?.object {
            for key in generation.unknownKeys(knownGenerationKeys) { dropped.add("generationConfig.\(key)") }
            request.temperature = generation[either: "temperature"]?.double
            request.topP = generation[either: "topP", "top_p"]?.double
            request.maxOutputTokens = generation[either: "maxOutputTokens", "max_output_tokens"]?.int
            request.stop = generation[either: "stopSequences", "stop_sequences"]?.array?.compactMap(\.string) ?? []
            if generation[either: "responseMimeType", "response_mime_type"]?.string == "application/json" {
                if let schema = generation[either: "responseJsonSchema", "response_json_schema", "responseSchema", "response_schema"] {
                    request.responseFormat = .jsonSchema(name: "response", schema: lowercasedTypes(schema), strict: nil)
                } else {
                    request.responseFormat = .jsonObject
                }
            }
        }
        return request
    }

    /// Gemini's SDKs write OpenAPI types upper-case (`OBJECT`); JSON Schema wants them lower-case.
    private static func lowercasedTypes(_ schema: JSONValue) -> JSONValue {
        switch schema {
        case .object(var object):
            for key in object.keys {
                if key == "type", let type = object[key]?.string {
                    object[key] = .string(type.lowercased())
                } else if let value = object[key] {
                    object[key] = lowercasedTypes(value)
                }
            }
            return .object(object)
        case .array(let values): return .array(values.map(lowercasedTypes))
        default: return schema
        }
    }

    public static func encodeRequest(_ request: ChatRequest, dropped: inout DroppedFeatures) throws(ConversionFailure) -> UpstreamRequest {
        guard let named = request.model, !named.isEmpty else {
            throw ConversionFailure("Invalid request: a model is required (the request names none and the config has no default model).")
        }
        // The model becomes a segment of the upstream's path: it must not be able to change that path.
        let model = try pathSegmentModel(named)
        var body = JSONObject()
        var contents = AlternatingTurns()
        for message in request.messages {
            contents.append(role: message.role == .assistant ? "model" : "user", message.parts.compactMap { part(for: $0, dropped: &dropped) })
        }
        body["contents"] = contents.json(itemsKey: "parts")
        if !request.system.isEmpty {
            body["systemInstruction"] = .object(JSONObject([("parts", .array(request.system.map { .object(JSONObject([("text", .string($0))])) }))]))
        }
        if !request.tools.isEmpty {
            let declarations = request.tools.map { tool -> JSONValue in
                var declaration = JSONObject([("name", .string(tool.name))])
                declaration.set("description", tool.description.map(JSONValue.string))
                if let parameters = tool.parameters, parameters["properties"]?.object?.isEmpty == false {
                    declaration["parameters"] = GeminiSchema.sanitize(parameters, dropped: &dropped)
                }
                return .object(declaration)
            }
            body["tools"] = .array([.object(JSONObject([("functionDeclarations", .array(declarations))]))])
            if request.parallelToolCalls == false { dropped.add("parallel_tool_calls: false") }
        }
        let callingConfig: JSONObject? = switch request.toolChoice {
        case .auto?: JSONObject([("mode", "AUTO")])
        case .none?: JSONObject([("mode", "NONE")])
        case .required?: JSONObject([("mode", "ANY")])
        case .function(let name)?: JSONObject([("mode", "ANY"), ("allowedFunctionNames", [.string(name)])])
        case nil: nil
        }
        if let callingConfig, !request.tools.isEmpty {
            body["toolConfig"] = .object(JSONObject([("functionCallingConfig", .object(callingConfig))]))
        }
        var generation = JSONObject()
        generation.set("temperature", request.temperature.map(JSONValue.number))
        generation.set("topP", request.topP.map(JSONValue.number))
        generation.set("maxOutputTokens", request.maxOutputTokens.map(JSONValue.int))
        if !request.stop.isEmpty { generation["stopSequences"] = .array(request.stop.map(JSONValue.string)) }
        switch request.responseFormat {
        case .jsonObject?: generation["responseMimeType"] = "application/json"
        case .jsonSchema(_, let schema, _)?:
            generation["responseMimeType"] = "application/json"
            generation["responseSchema"] = GeminiSchema.sanitize(schema, dropped: &dropped)
        case .text?, nil: break
        }
        if !generation.isEmpty { body["generationConfig"] = .object(generation) }
        let path = request.stream
            ? "/v1beta/models/\(model):streamGenerateContent?alt=sse" : "/v1beta/models/\(model):generateContent"
        return UpstreamRequest(path: path, body: JSONWriter.bytes(.object(body)), streams: request.stream)
    }

    /// The model as a path segment: `models/` dropped, then letters, digits, `-`, `_` and `.` only, and not dots alone
    /// (every Gemini model id fits; `..`, `/`, `?`, `#`, `%` and `:` would change the path the key is sent to).
    static func pathSegmentModel(_ named: String) throws(ConversionFailure) -> String {
        let model = named.hasPrefix("models/") ? String(named.dropFirst(7)) : named
        let allowed = model.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                true
            default:
                false
            }
        }
        guard allowed, !model.isEmpty, model.utf8.count <= 200, !model.utf8.allSatisfy({ $0 == UInt8(ascii: ".") }) else {
            let shown = named.count > 100 ? String(named.prefix(100)) + "…" : named
            throw ConversionFailure("Invalid request: model '\(shown)' is not a valid Gemini model name (letters, digits, '-', '_' and '.' only).")
        }
        return model
    }

    private static func part(for part: MessagePart, dropped: inout DroppedFeatures) -> JSONValue? {
        switch part {
        case .text(let text):
            return text.isEmpty ? nil : .object(JSONObject([("text", .string(text))]))
        case .image(.base64(let mediaType, let data)):
            return .object(JSONObject([("inlineData", .object(JSONObject([("mimeType", .string(mediaType)), ("data", .string(data))])))]))
        case .image(.url):
            dropped.add("image URLs (Gemini takes inline images or uploaded files)")
            return nil
        case .toolCall(let call):
            return functionCallPart(call, dropped: &dropped)
        case .toolResult(let result):
            // `response` must be an object: JSON object text goes as is, anything else is wrapped.
            var ignored = DroppedFeatures()
            let parsed = ToolArguments.object(result.content, dropped: &ignored)
            let response: JSONValue = ignored.isEmpty && !result.content.isEmpty
                ? parsed : .object(JSONObject([("result", .string(result.content))]))
            return .object(JSONObject([
                ("functionResponse", .object(JSONObject([("name", .string(result.name ?? result.callID)), ("response", response)]))),
            ]))
        }
    }
}
