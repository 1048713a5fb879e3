/// A finished, non-streamed answer.
public struct ChatResponse: Sendable, Equatable {
    public var id: String
    public var model: String
    /// Text and tool calls, in the order the model produced them.
    public var parts: [MessagePart]
    public var finishReason: FinishReason?
    public var usage: TokenUsage?
    /// Unix seconds, when the upstream says (OpenAI); encoders that need one use `ConversionClock`.
    public var created: Int?

    public init(id: String, model: String, parts: [MessagePart], finishReason: FinishReason?, usage: TokenUsage?, created: Int? = nil) {
        self.id = id
        self.model = model
        self.parts = parts
        self.finishReason = finishReason
        self.usage = usage
        self.created = created
    }

    public var toolCalls: [ToolCall] {
        parts.compactMap { if case .toolCall(let call) = $0 { call } else { nil } }
    }

    public var text: String {
        parts.compactMap { if case .text(let text) = $0 { text } else { nil } }.joined()
    }
}
