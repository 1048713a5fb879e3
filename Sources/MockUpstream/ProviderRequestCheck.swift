import Foundation
import HTTPTypes
import Hummingbird

/// Each provider's rules for a request body, strict the way the real APIs are: unknown top-level fields,
/// another provider's shapes, missing required fields and empty conversations are refused with a 400
/// message like the provider's. A body in the wrong dialect can never pass by accident.
enum ProviderRequestCheck {
    struct Refusal: Error, Sendable {
        var status: Int
        var message: String
        init(_ message: String, status: Int = 400) {
            self.status = status
            self.message = message
        }
    }

    static func check(_ route: MockRoute, body: ByteBuffer, headers: HTTPFields) -> Result<ProviderRequest, Refusal> {
        do {
            switch route {
            case .chatCompletions: return .success(try openAIChat(object(body, dialect: .openAI)))
            case .responses: return .success(try openAIResponses(object(body, dialect: .openAI)))
            case .messages:
                guard headers[.anthropicVersion] != nil else { throw Refusal("anthropic-version: header is required") }
                try anthropicBetas(headers[values: .anthropicBeta])
                return .success(try anthropic(object(body, dialect: .anthropic)))
            case .generateContent(let model), .streamGenerateContent(let model):
                try geminiModel(model, action: route == .generateContent(model: model) ? "generateContent" : "streamGenerateContent")
                var request = try gemini(object(body, dialect: .gemini))
                request.model = model
                if case .streamGenerateContent = route { request.stream = true }
                return .success(request)
            case .models:
                if headers[.xAPIKey] != nil, headers[.authorization] == nil, headers[.anthropicVersion] == nil {
                    throw Refusal("anthropic-version: header is required")
                }
                return .success(ProviderRequest())
            case .unsupported:
                throw Refusal("Not found.", status: 404)
            case .generic:
                return .success(ProviderRequest())
            }
        } catch let refusal as Refusal {
            return .failure(refusal)
        } catch {
            return .failure(Refusal("\(error)"))
        }
    }

    private static func object(_ body: ByteBuffer, dialect: ProviderDialect) throws -> [String: Any] {
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)), let object = parsed as? [String: Any] else {
            switch dialect {
            case .anthropic: throw Refusal("The request body is not valid JSON.")
            case .gemini: throw Refusal("Invalid JSON payload received. Expected an object.")
            default: throw Refusal("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)")
            }
        }
        return object
    }

    // MARK: OpenAI

    private static let chatFields: Set<String> = [
        "model", "messages", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "max_tokens", "max_completion_tokens",
        "n", "presence_penalty", "response_format", "seed", "service_tier", "stop", "stream", "stream_options", "temperature", "top_p",
        "tools", "tool_choice", "parallel_tool_calls", "user", "functions", "function_call", "store", "metadata", "modalities",
        "audio", "prediction", "reasoning_effort", "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier",
    ]

    private static func openAIChat(_ body: [String: Any]) throws -> ProviderRequest {
        if let unknown = body.keys.sorted().first(where: { !chatFields.contains($0) }) {
            throw Refusal("Unrecognized request argument supplied: \(unknown)")
        }
        guard let model = body["model"] as? String else { throw Refusal("you must provide a model parameter") }
        guard let messages = body["messages"] as? [[String: Any]] else { throw Refusal("Missing required parameter: 'messages'.") }
        guard !messages.isEmpty else { throw Refusal("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.") }
        let roles: Set<String> = ["system", "developer", "user", "assistant", "tool", "function"]
        let partTypes: Set<String> = ["text", "image_url", "input_audio", "file", "refusal"]
        for (index, message) in messages.enumerated() {
            let role = message["role"] as? String ?? ""
            guard roles.contains(role) else {
                throw Refusal("Invalid value: '\(role)'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.")
            }
            if role == "tool", message["tool_call_id"] as? String == nil {
                throw Refusal("Missing required parameter: 'messages[\(index)].tool_call_id'.")
            }
            for part in message["content"] as? [[String: Any]] ?? [] {
                let type = part["type"] as? String ?? ""
                guard partTypes.contains(type) else {
                    throw Refusal("Invalid value: '\(type)'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', and 'file'.")
                }
            }
        }
        var request = ProviderRequest(stream: body["stream"] as? Bool ?? false, model: model)
        request.includeUsage = (body["stream_options"] as? [String: Any])?["include_usage"] as? Bool ?? false
        var tools: [(String, [String: Any]?)] = []
        for (index, tool) in (body["tools"] as? [[String: Any]] ?? []).enumerated() {
            guard tool["type"] as? String == "function" else { throw Refusal("Missing required parameter: 'tools[\(index)].type'.") }
            guard let function = tool["function"] as? [String: Any], let name = function["name"] as? String else {
                throw Refusal("Missing required parameter: 'tools[\(index)].function'.")
            }
            tools.append((name, function["parameters"] as? [String: Any]))
        }
        let answersACall = messages.last?["role"] as? String == "tool"
        request.toolToCall = toolToCall(tools, choice: body["tool_choice"] as? String, answering: answersACall)
        request.json = try openAIChatJSON(body["response_format"], messages: messages)
        return request
    }

    private static let responsesFields: Set<String> = [
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "temperature", "top_p", "max_output_tokens",
        "text", "stream", "store", "previous_response_id", "reasoning", "metadata", "include", "truncation", "user", "background",
        "service_tier", "prompt", "prompt_cache_key", "safety_identifier", "stream_options", "top_logprobs", "max_tool_calls", "conversation",
    ]

    private static func openAIResponses(_ body: [String: Any]) throws -> ProviderRequest {
        if let unknown = body.keys.sorted().first(where: { !responsesFields.contains($0) }) {
            throw Refusal("Unknown parameter: '\(unknown)'.")
        }
        guard let model = body["model"] as? String else { throw Refusal("Missing required parameter: 'model'.") }
        var answersACall = false
        if let items = body["input"] as? [[String: Any]] {
            let itemTypes: Set<String> = ["message", "function_call", "function_call_output", "reasoning", "item_reference"]
            let partTypes: Set<String> = ["input_text", "input_image", "input_file", "output_text", "refusal"]
            for item in items {
                let type = item["type"] as? String ?? "message"
                guard itemTypes.contains(type) else { throw Refusal("Invalid value: '\(type)'.") }
                if type == "message", item["role"] as? String == nil { throw Refusal("Missing required parameter: 'input[].role'.") }
                for part in item["content"] as? [[String: Any]] ?? [] where !partTypes.contains(part["type"] as? String ?? "") {
                    throw Refusal("Invalid value: '\(part["type"] as? String ?? "")'. Supported values are: 'input_text', 'input_image', 'output_text', 'refusal', and 'input_file'.")
                }
            }
            answersACall = items.last?["type"] as? String == "function_call_output"
        } else if body["input"] as? String == nil {
            throw Refusal("Missing required parameter: 'input'.")
        }
        var tools: [(String, [String: Any]?)] = []
        for (index, tool) in (body["tools"] as? [[String: Any]] ?? []).enumerated() {
            guard let type = tool["type"] as? String else { throw Refusal("Missing required parameter: 'tools[\(index)].type'.") }
            if type == "function" {
                guard let name = tool["name"] as? String else { throw Refusal("Missing required parameter: 'tools[\(index)].name'.") }
                tools.append((name, tool["parameters"] as? [String: Any]))
            }
        }
        var request = ProviderRequest(stream: body["stream"] as? Bool ?? false, model: model)
        request.toolToCall = toolToCall(tools, choice: body["tool_choice"] as? String, answering: answersACall)
        request.json = try openAIResponsesJSON(body["text"])
        return request
    }

    // MARK: Anthropic

    private static let messagesFields: Set<String> = [
        "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature", "top_p", "top_k", "tools",
        "tool_choice", "thinking", "service_tier", "container", "mcp_servers", "context_management", "cache_control", "diagnostics",
        "inference_geo", "output_config", "speed", "user_profile_id", "workspace_id",
    ]

    private static func anthropic(_ body: [String: Any]) throws -> ProviderRequest {
        if let unknown = body.keys.sorted().first(where: { !messagesFields.contains($0) }) {
            throw Refusal("\(unknown): Extra inputs are not permitted")
        }
        guard let model = body["model"] as? String else { throw Refusal("model: Field required") }
        guard body["max_tokens"] is Int else { throw Refusal("max_tokens: Field required") }
        guard let messages = body["messages"] as? [[String: Any]] else { throw Refusal("messages: Field required") }
        guard !messages.isEmpty else { throw Refusal("messages: at least one message is required") }
        if let system = body["system"], !(system is String), !(system is [[String: Any]]) {
            throw Refusal("system: Input should be a valid string or a list of text blocks")
        }
        let blockTypes: Set<String> = [
            "text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", "search_result",
            "server_tool_use", "web_search_tool_result", "container_upload",
        ]
        for (index, message) in messages.enumerated() {
            let role = message["role"] as? String
            guard role == "user" || role == "assistant" else { throw Refusal("messages.\(index).role: Input should be 'user' or 'assistant'") }
            if let blocks = message["content"] as? [[String: Any]] {
                for block in blocks where !blockTypes.contains(block["type"] as? String ?? "") {
                    throw Refusal("messages.\(index).content: Input tag '\(block["type"] as? String ?? "")' found using 'type' does not match any of the expected tags")
                }
            } else if !(message["content"] is String) {
                throw Refusal("messages.\(index).content: Input should be a valid list")
            }
        }
        var tools: [(String, [String: Any]?)] = []
        for (index, tool) in (body["tools"] as? [[String: Any]] ?? []).enumerated() {
            if tool["type"] != nil, tool["type"] as? String != "custom" { continue }
            guard let name = tool["name"] as? String else { throw Refusal("tools.\(index).name: Field required") }
            guard let schema = tool["input_schema"] as? [String: Any] else { throw Refusal("tools.\(index).input_schema: Field required") }
            tools.append((name, schema))
        }
        let last = messages.last?["content"] as? [[String: Any]] ?? []
        let answersACall = last.contains { $0["type"] as? String == "tool_result" }
        let choice = (body["tool_choice"] as? [String: Any])?["type"] as? String
        var request = ProviderRequest(stream: body["stream"] as? Bool ?? false, model: model)
        request.toolToCall = toolToCall(tools, choice: choice, answering: answersACall)
        request.json = try anthropicJSON(body["output_config"])
        return request
    }

    /// Beta names are `name-YYYY-MM-DD`; Anthropic refuses any other value, naming it.
    private static func anthropicBetas(_ values: [String]) throws {
        let names = values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        let unknown = names.filter { $0.range(of: #"^[a-z0-9]+(-[a-z0-9]+)*-[0-9]{4}-[0-9]{2}-[0-9]{2}$"#, options: .regularExpression) == nil }
        guard !unknown.isEmpty else { return }
        throw Refusal("Unexpected value(s) `\(unknown.joined(separator: ", "))` for the `anthropic-beta` header. "
            + "Please consult our documentation at docs.anthropic.com or try again without the header.")
    }

    // MARK: Gemini

    /// A model id is letters, digits, `-`, `.` and `_`; Google answers any other name (percent-decoded) with a 404
    /// that names it.
    private static func geminiModel(_ raw: String, action: String) throws {
        let model = raw.removingPercentEncoding ?? raw
        guard model.isEmpty || model.range(of: #"[^A-Za-z0-9._-]"#, options: .regularExpression) != nil else { return }
        throw Refusal("models/\(model) is not found for API version v1beta, or is not supported for \(action). "
            + "Call ListModels to see the list of available models and their supported methods.", status: 404)
    }

    private static let geminiFields: Set<String> = [
        "contents", "systemInstruction", "system_instruction", "tools", "toolConfig", "tool_config", "safetySettings",
        "safety_settings", "generationConfig", "generation_config", "cachedContent", "cached_content", "labels",
    ]
    private static let geminiPartFields: Set<String> = [
        "text", "inlineData", "inline_data", "fileData", "file_data", "functionCall", "function_call", "functionResponse",
        "function_response", "executableCode", "executable_code", "codeExecutionResult", "code_execution_result", "thought",
        "thoughtSignature", "thought_signature", "videoMetadata", "video_metadata",
    ]
    private static let geminiGenerationFields: Set<String> = [
        "temperature", "topP", "top_p", "topK", "top_k", "candidateCount", "candidate_count", "maxOutputTokens", "max_output_tokens",
        "stopSequences", "stop_sequences", "responseMimeType", "response_mime_type", "responseSchema", "response_schema",
        "responseJsonSchema", "response_json_schema", "presencePenalty", "presence_penalty", "frequencyPenalty", "frequency_penalty",
        "seed", "responseLogprobs", "response_logprobs", "logprobs", "thinkingConfig", "thinking_config", "responseModalities",
        "response_modalities", "mediaResolution", "media_resolution",
    ]

    private static func unknownName(_ name: String, at path: String) -> Refusal {
        Refusal(#"Invalid JSON payload received. Unknown name "\#(name)"\#(path.isEmpty ? "" : " at '\(path)'"): Cannot find field."#)
    }

    private static func gemini(_ body: [String: Any]) throws -> ProviderRequest {
        if let unknown = body.keys.sorted().first(where: { !geminiFields.contains($0) }) { throw unknownName(unknown, at: "") }
        guard let contents = body["contents"] as? [[String: Any]], !contents.isEmpty else {
            throw Refusal("* GenerateContentRequest.contents: contents is not specified")
        }
        for (index, content) in contents.enumerated() {
            if let role = content["role"] as? String, !["user", "model", "function"].contains(role) {
                throw Refusal("Please use a valid role: user, model.")
            }
            guard let parts = content["parts"] as? [[String: Any]], !parts.isEmpty else {
                throw Refusal("* GenerateContentRequest.contents[\(index)].parts: contents.parts must not be empty.")
            }
            for (partIndex, part) in parts.enumerated() {
                if let unknown = part.keys.sorted().first(where: { !geminiPartFields.contains($0) }) {
                    throw unknownName(unknown, at: "contents[\(index)].parts[\(partIndex)]")
                }
            }
        }
        let generation = (body["generationConfig"] ?? body["generation_config"]) as? [String: Any]
        if let unknown = generation?.keys.sorted().first(where: { !geminiGenerationFields.contains($0) }) {
            throw unknownName(unknown, at: "generation_config")
        }
        var tools: [(String, [String: Any]?)] = []
        for tool in body["tools"] as? [[String: Any]] ?? [] {
            for declaration in (tool["functionDeclarations"] ?? tool["function_declarations"]) as? [[String: Any]] ?? [] {
                guard let name = declaration["name"] as? String else {
                    throw Refusal("* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot be empty.")
                }
                tools.append((name, (declaration["parameters"] ?? declaration["parametersJsonSchema"]) as? [String: Any]))
            }
        }
        let lastParts = contents.last?["parts"] as? [[String: Any]] ?? []
        let answersACall = lastParts.contains { $0["functionResponse"] != nil || $0["function_response"] != nil }
        let config = (body["toolConfig"] ?? body["tool_config"]) as? [String: Any]
        let mode = ((config?["functionCallingConfig"] ?? config?["function_calling_config"]) as? [String: Any])?["mode"] as? String
        var request = ProviderRequest()
        request.toolToCall = toolToCall(tools, choice: mode == "NONE" ? "none" : nil, answering: answersACall)
        request.json = geminiJSON(generation)
        return request
    }

    private static func toolToCall(_ tools: [(String, [String: Any]?)], choice: String?, answering: Bool) -> ProviderRequest.ToolToCall? {
        guard let (name, schema) = tools.first, !answering, choice != "none" else { return nil }
        return ProviderRequest.ToolToCall(name: name, arguments: ProviderRequest.arguments(for: schema))
    }
}
