/// Why the model stopped.
public enum FinishReason: Sendable, Equatable {
    case stop
    case length
    case toolCalls
    case contentFilter
    /// A reason with no counterpart elsewhere, kept for the formats that can say it.
    case other(String)
}
