/// Anthropic's structured outputs (`output_config.format`) take a subset of JSON Schema and refuse the rest with a
/// 400: every object must say `additionalProperties: false`, and numeric, string-length and most array bounds are
/// not supported. This keeps what it takes, closes every object, turns OpenAPI's `nullable` (Gemini's schemas)
/// into `anyOf` with `null`, and reports what it left out.
enum AnthropicSchema {
    private static let keywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "prefixItems", "enum", "const", "anyOf", "allOf",
        "$ref", "$defs", "definitions", "description", "title", "format", "minItems", "default",
    ]

    static func sanitize(_ schema: JSONValue, dropped: inout DroppedFeatures) -> JSONValue {
        guard case .object(let object) = schema else { return schema }
        var result = JSONObject()
        for member in object.members {
            switch member.key {
            case "properties", "$defs", "definitions":
                var inner = JSONObject()
                for property in member.value.object?.members ?? [] {
                    inner[property.key] = sanitize(property.value, dropped: &dropped)
                }
                result[member.key] = .object(inner)
            case "items":
                result["items"] = sanitize(member.value, dropped: &dropped)
            case "anyOf", "allOf", "prefixItems":
                result[member.key] = .array((member.value.array ?? []).map { sanitize($0, dropped: &dropped) })
            case "oneOf":
                // The closest it takes: one of several shapes, without the "exactly one" check.
                result["anyOf"] = .array((member.value.array ?? []).map { sanitize($0, dropped: &dropped) })
            case "additionalProperties":
                if member.value != .bool(false) { dropped.add("schema additionalProperties other than false") }
            case "minItems":
                // Only 0 and 1 are supported.
                if let count = member.value.int, count <= 1 { result["minItems"] = member.value } else { dropped.add("schema keyword 'minItems' above 1") }
            case "nullable", "propertyOrdering", "property_ordering":
                continue
            case let key where keywords.contains(key):
                result[key] = member.value
            case let key:
                dropped.add("schema keyword '\(key)'")
            }
        }
        if result["type"]?.string == "object" || result["properties"] != nil {
            result["additionalProperties"] = false
        }
        guard object["nullable"]?.bool == true else { return .object(result) }
        return .object(JSONObject([("anyOf", .array([.object(result), .object(JSONObject([("type", "null")]))]))]))
    }
}
