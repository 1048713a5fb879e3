import Foundation

/// The JSON text a structured-output request gets: a value that matches its schema (JSON Schema, or Gemini's
/// OpenAPI subset with upper-case types), or a small object in JSON mode. Every property is filled, so a strict
/// client-side validator (pydantic in the SDKs) accepts it.
enum SchemaSample {
    /// JSON mode without a schema.
    static let object = #"{"answer":"mock"}"#

    static func json(for schema: [String: Any]) -> String {
        value(schema, root: schema, depth: 0)
    }

    private static func value(_ schema: [String: Any], root: [String: Any], depth: Int) -> String {
        guard depth < 12 else { return "null" }
        if let reference = schema["$ref"] as? String {
            let name = reference.split(separator: "/").last.map(String.init) ?? ""
            let definitions = (root["$defs"] ?? root["definitions"]) as? [String: Any]
            guard let target = definitions?[name] as? [String: Any] else { return "null" }
            return value(target, root: root, depth: depth + 1)
        }
        if let constant = schema["const"] { return literal(constant) }
        if let first = (schema["enum"] as? [Any])?.first { return literal(first) }
        for key in ["anyOf", "oneOf", "allOf"] {
            guard let options = schema[key] as? [[String: Any]], !options.isEmpty else { continue }
            let chosen = options.first { typeName($0) != "null" } ?? options[0]
            return value(chosen, root: root, depth: depth + 1)
        }
        switch typeName(schema) {
        case let type where type == "object" || (type == nil && schema["properties"] != nil):
            let properties = schema["properties"] as? [String: Any] ?? [:]
            let order = schema["propertyOrdering"] as? [String] ?? properties.keys.sorted()
            let members = order.compactMap { name in
                (properties[name] as? [String: Any]).map { JSONText.quote(name) + ":" + value($0, root: root, depth: depth + 1) }
            }
            return "{" + members.joined(separator: ",") + "}"
        case "array"?:
            guard let items = schema["items"] as? [String: Any] else { return "[]" }
            return "[" + value(items, root: root, depth: depth + 1) + "]"
        case "integer"?: return "1"
        case "number"?: return "1.5"
        case "boolean"?: return "true"
        case "null"?: return "null"
        default: return JSONText.quote(string(format: schema["format"] as? String))
        }
    }

    /// `"type": "OBJECT"`, `"type": "object"` or `"type": ["string", "null"]` (the first that is not null).
    private static func typeName(_ schema: [String: Any]) -> String? {
        if let name = schema["type"] as? String { return name.lowercased() }
        let names = (schema["type"] as? [String])?.map { $0.lowercased() }
        return names?.first { $0 != "null" } ?? names?.first
    }

    private static func string(format: String?) -> String {
        switch format {
        case "date-time"?: "2026-01-01T00:00:00Z"
        case "date"?: "2026-01-01"
        case "time"?: "00:00:00"
        case "email"?: "mock@example.com"
        case "uri"?, "url"?: "https://example.com/mock"
        case "uuid"?: "00000000-0000-4000-8000-000000000000"
        default: "mock"
        }
    }

    private static func literal(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: .fragmentsAllowed) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}
