/// One turn of a conversation. Tool results travel as `.tool` turns; formats that carry them inside a user
/// turn (Anthropic, Gemini) merge or split on the way.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable, Equatable {
        case user
        case assistant
        case tool
    }

    public var role: Role
    public var parts: [MessagePart]

    public init(role: Role, parts: [MessagePart]) {
        self.role = role
        self.parts = parts
    }

    /// The text parts joined, for formats that want one string.
    public var text: String {
        parts.compactMap { if case .text(let text) = $0 { text } else { nil } }.joined()
    }
}
