/// How a 429 tells the client when to come back. Each provider says it differently, and the rotator
/// must read all of them, so the mock can speak each one on demand.
public enum RetryAfterStyle: String, Sendable, Codable, CaseIterable {
    /// `Retry-After: 2` (integer seconds).
    case seconds
    /// `Retry-After: Sun, 06 Nov 1994 08:49:37 GMT` (an IMF-fixdate that many seconds ahead).
    case httpDate
    /// OpenAI's `x-ratelimit-reset-requests: 2s` with `x-ratelimit-remaining-requests: 0`, no `Retry-After`.
    case openAIResetHeaders
    /// Gemini's 429 body carrying `error.details[].retryDelay: "2s"` (a google.rpc.RetryInfo), no header.
    case geminiRetryInfo
    /// No hint at all, so the client has to fall back to its own cooldown.
    case none
}
