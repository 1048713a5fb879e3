/// Structured output, each provider in its own field and shape: OpenAI Chat `response_format`, Responses
/// `text.format`, Anthropic `output_config.format`, Gemini `generationConfig.responseMimeType` (with
/// `responseSchema` or `responseJsonSchema`). The answer is JSON only when asked this way; another provider's
/// field is an unknown field to the body check, refused before it gets here.
extension ProviderRequestCheck {
    static func openAIChatJSON(_ format: Any?, messages: [[String: Any]]) throws -> String? {
        guard let format else { return nil }
        guard let format = format as? [String: Any] else { throw Refusal("Invalid type for 'response_format': expected an object.") }
        switch format["type"] as? String {
        case "text"?: return nil
        case "json_object"?:
            // OpenAI's JSON mode wants the word in the conversation (a system message counts).
            let texts = messages.flatMap { message -> [String] in
                if let text = message["content"] as? String { return [text] }
                return (message["content"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
            }
            guard texts.contains(where: { $0.lowercased().contains("json") }) else {
                throw Refusal("'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.")
            }
            return SchemaSample.object
        case "json_schema"?:
            guard let described = format["json_schema"] as? [String: Any] else { throw Refusal("Missing required parameter: 'response_format.json_schema'.") }
            guard described["name"] is String else { throw Refusal("Missing required parameter: 'response_format.json_schema.name'.") }
            return SchemaSample.json(for: described["schema"] as? [String: Any] ?? [:])
        case let other:
            throw Refusal("Invalid value: '\(other ?? "")'. Supported values are: 'text', 'json_object', and 'json_schema'.")
        }
    }

    static func openAIResponsesJSON(_ text: Any?) throws -> String? {
        guard let format = (text as? [String: Any])?["format"] else { return nil }
        guard let format = format as? [String: Any] else { throw Refusal("Invalid type for 'text.format': expected an object.") }
        switch format["type"] as? String {
        case "text"?: return nil
        case "json_object"?: return SchemaSample.object
        case "json_schema"?:
            guard format["name"] is String else { throw Refusal("Missing required parameter: 'text.format.name'.") }
            guard let schema = format["schema"] as? [String: Any] else { throw Refusal("Missing required parameter: 'text.format.schema'.") }
            return SchemaSample.json(for: schema)
        case let other:
            throw Refusal("Invalid value: '\(other ?? "")'. Supported values are: 'text', 'json_object', and 'json_schema'.")
        }
    }

    /// Anthropic takes a JSON schema only, and refuses one with an object that is not closed.
    static func anthropicJSON(_ config: Any?) throws -> String? {
        guard let format = (config as? [String: Any])?["format"] else { return nil }
        guard let format = format as? [String: Any] else { throw Refusal("output_config.format: Input should be a valid dictionary") }
        guard format["type"] as? String == "json_schema" else {
            throw Refusal("output_config.format.type: Input tag '\(format["type"] as? String ?? "")' found using 'type' does not match any of the expected tags: 'json_schema'")
        }
        guard let schema = format["schema"] as? [String: Any] else { throw Refusal("output_config.format.schema: Field required") }
        if let open = firstOpenObject(schema) {
            throw Refusal("output_config.format.schema: For 'object' type, 'additionalProperties' must be explicitly set to false\(open.isEmpty ? "" : " (at \(open))")")
        }
        return SchemaSample.json(for: schema)
    }

    static func geminiJSON(_ generation: [String: Any]?) -> String? {
        guard let generation, (generation["responseMimeType"] ?? generation["response_mime_type"]) as? String == "application/json" else { return nil }
        let schema = ["responseJsonSchema", "response_json_schema", "responseSchema", "response_schema"].lazy.compactMap { generation[$0] as? [String: Any] }.first
        return schema.map(SchemaSample.json(for:)) ?? SchemaSample.object
    }

    /// The path of the first object schema without `additionalProperties: false` ("" for the root), or nil.
    private static func firstOpenObject(_ schema: [String: Any], path: String = "") -> String? {
        if schema["type"] as? String == "object" || schema["properties"] != nil, schema["additionalProperties"] as? Bool != false {
            return path
        }
        for key in ["properties", "$defs", "definitions"] {
            for (name, inner) in schema[key] as? [String: Any] ?? [:] {
                if let inner = inner as? [String: Any], let found = firstOpenObject(inner, path: path + ".\(key).\(name)") { return found }
            }
        }
        if let items = schema["items"] as? [String: Any], let found = firstOpenObject(items, path: path + ".items") { return found }
        for key in ["anyOf", "allOf"] {
            for (index, inner) in (schema[key] as? [[String: Any]] ?? []).enumerated() {
                if let found = firstOpenObject(inner, path: path + ".\(key).\(index)") { return found }
            }
        }
        return nil
    }
}
