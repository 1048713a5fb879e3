/// A generation request in no provider's shape: what every client format decodes into and every upstream
/// format encodes from.
public struct ChatRequest: Sendable, Equatable {
    public var model: String?
    /// System instructions, in order (OpenAI system/developer messages, Anthropic `system`, Gemini `systemInstruction`).
    public var system: [String] = []
    public var messages: [ChatMessage] = []
    public var tools: [ToolDefinition] = []
    public var toolChoice: ToolChoice?
    public var parallelToolCalls: Bool?
    public var temperature: Double?
    public var topP: Double?
    public var maxOutputTokens: Int?
    public var stop: [String] = []
    public var responseFormat: ResponseFormat?
    public var stream = false

    public init(model: String? = nil) { self.model = model }
}
