import Foundation

/// What the mock needs from a request body once the provider's rules accepted it.
struct ProviderRequest: Sendable {
    var stream = false
    var model: String?
    /// OpenAI `stream_options.include_usage`.
    var includeUsage = false
    /// The tool to call when the request offers tools and is not itself answering a tool call.
    var toolToCall: ToolToCall?
    /// The answer's text when the request asked for structured output in its provider's own field: JSON.
    var json: String?

    struct ToolToCall: Sendable {
        var name: String
        /// Arguments made up from the tool's schema, as JSON text.
        var arguments: String
    }

    /// Arguments for a schema: each required (or, with none required, each) property gets a value of its type.
    static func arguments(for schema: [String: Any]?) -> String {
        let properties = schema?["properties"] as? [String: Any] ?? [:]
        let required = schema?["required"] as? [String] ?? properties.keys.sorted()
        var members: [String] = []
        for name in required {
            let type = ((properties[name] as? [String: Any])?["type"] as? String)?.lowercased()
            let value = switch type {
            case "integer"?, "number"?: "1"
            case "boolean"?: "true"
            case "array"?: "[]"
            case "object"?: "{}"
            default: JSONText.quote("mock")
            }
            members.append("\(JSONText.quote(name)):\(value)")
        }
        return "{" + members.joined(separator: ",") + "}"
    }
}
