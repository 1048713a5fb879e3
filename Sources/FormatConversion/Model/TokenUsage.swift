/// Tokens an answer cost, as the upstream reported them; recorded per key by the caller.
public struct TokenUsage: Sendable, Equatable {
    public var inputTokens: Int
    public var outputTokens: Int
    /// Input tokens served from the provider's prompt cache (part of `inputTokens`), where the provider says.
    public var cachedTokens: Int

    public init(inputTokens: Int, outputTokens: Int, cachedTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedTokens = cachedTokens
    }

    public var totalTokens: Int { inputTokens + outputTokens }
}
