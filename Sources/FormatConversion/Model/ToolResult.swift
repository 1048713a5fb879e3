/// What the client's code answered to a tool call. `name` is filled from the matching call when the format
/// does not carry it (OpenAI), because Gemini pairs results by name.
public struct ToolResult: Sendable, Equatable {
    public var callID: String
    public var name: String?
    public var content: String
    public var isError: Bool

    public init(callID: String, name: String?, content: String, isError: Bool = false) {
        self.callID = callID
        self.name = name
        self.content = content
        self.isError = isError
    }
}
