/// Gemini's `parameters` and `responseSchema` take an OpenAPI 3.0 subset of JSON Schema and refuse unknown
/// keywords; this keeps the keywords it knows, upper-cases types as its enum spells them, and reports the rest.
/// Local references (`$ref` to `#/$defs/...`, what pydantic writes for a nested model) are inlined: the subset has
/// no references.
enum GeminiSchema {
    private static let keywords: Set<String> = [
        "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties", "required",
        "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
        "default", "items", "minimum", "maximum",
    ]

    /// How deep references are followed: a recursive schema (a tree of nodes) has no inlined form.
    private static let referenceDepth = 8

    static func sanitize(_ schema: JSONValue, dropped: inout DroppedFeatures) -> JSONValue {
        let definitions = (schema["$defs"] ?? schema["definitions"])?.object
        return sanitize(schema, definitions: definitions, depth: 0, dropped: &dropped)
    }

    private static func sanitize(_ schema: JSONValue, definitions: JSONObject?, depth: Int, dropped: inout DroppedFeatures) -> JSONValue {
        guard case .object(let object) = schema else { return schema }
        if let reference = object["$ref"]?.string {
            let name = reference.split(separator: "/").last.map(String.init) ?? ""
            guard depth < referenceDepth, reference.hasPrefix("#/"), let target = definitions?[name] else {
                dropped.add("schema reference '\(reference)'")
                return .object(JSONObject([("type", "OBJECT")]))
            }
            return sanitize(target, definitions: definitions, depth: depth + 1, dropped: &dropped)
        }
        var result = JSONObject()
        for member in object.members {
            if member.key == "$defs" || member.key == "definitions" { continue }
            guard keywords.contains(member.key) else {
                dropped.add("schema keyword '\(member.key)'")
                continue
            }
            switch member.key {
            case "properties":
                var properties = JSONObject()
                for property in member.value.object?.members ?? [] {
                    properties[property.key] = sanitize(property.value, definitions: definitions, depth: depth, dropped: &dropped)
                }
                result["properties"] = .object(properties)
            case "items":
                result["items"] = sanitize(member.value, definitions: definitions, depth: depth, dropped: &dropped)
            case "anyOf":
                result["anyOf"] = .array((member.value.array ?? []).map { sanitize($0, definitions: definitions, depth: depth, dropped: &dropped) })
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
