/// Whether and which tool the model must call.
public enum ToolChoice: Sendable, Equatable {
    case auto
    case none
    case required
    case function(String)
}
