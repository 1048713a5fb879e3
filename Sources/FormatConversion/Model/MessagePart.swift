/// A piece of a message or of an answer.
public enum MessagePart: Sendable, Equatable {
    case text(String)
    case image(ImageSource)
    case toolCall(ToolCall)
    case toolResult(ToolResult)
}
