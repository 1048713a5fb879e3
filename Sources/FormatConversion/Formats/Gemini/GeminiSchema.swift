/// Gemini's `parameters` and `responseSchema` take an OpenAPI 3.0 subset of JSON Schema and refuse unknown
/// keywords; this keeps the keywords it knows, upper-cases types as its enum spells them, and reports the rest.
enum GeminiSchema {
    private static let keywords: Set<String> = [
        "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties", "required",
        "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
        "default", "items", "minimum", "maximum",
    ]

    static func sanitize(_ schema: JSONValue, dropped: inout DroppedFeatures) -> JSONValue {
        guard case .object(let object) = schema else { return schema }
        var result = JSONObject()
        for member in object.members {
            guard keywords.contains(member.key) else {
                dropped.add("schema keyword '\(member.key)'")
                continue
            }
            switch member.key {
            case "properties":
                var properties = JSONObject()
                for property in member.value.object?.members ?? [] {
                    properties[property.key] = sanitize(property.value, dropped: &dropped)
                }
                result["properties"] = .object(properties)
            case "items":
                result["items"] = sanitize(member.value, dropped: &dropped)
            case "anyOf":
                result["anyOf"] = .array((member.value.array ?? []).map { sanitize($0, dropped: &dropped) })
            case "type":
                // JSON Schema's ["string", "null"] is OpenAPI's type + nullable.
                if let types = member.value.array?.compactMap(\.string) {
                    let concrete = types.filter { $0 != "null" }
                    result["type"] = .string((concrete.first ?? "string").uppercased())
                    if concrete.count < types.count { result["nullable"] = true }
                } else {
                    // Gemini's Type enum is upper-case (`OBJECT`, `STRING`).
                    result["type"] = member.value.string.map { .string($0.uppercased()) } ?? member.value
                }
            default:
                result[member.key] = member.value
            }
        }
        return .object(result)
    }
}
