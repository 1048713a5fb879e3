/// Structured output: free JSON, or JSON matching a schema.
public enum ResponseFormat: Sendable, Equatable {
    case text
    case jsonObject
    case jsonSchema(name: String, schema: JSONValue, strict: Bool?)
}
