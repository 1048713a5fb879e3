import HTTPTypes

// The force unwraps below are on literal, valid field names: `HTTPField.Name` fails only on invalid tokens.
extension HTTPField.Name {
    static let xAPIKey = Self("x-api-key")!
    static let xGoogAPIKey = Self("x-goog-api-key")!
    static let anthropicVersion = Self("anthropic-version")!
    static let anthropicBeta = Self("anthropic-beta")!
    static let xMockChunks = Self("x-mock-chunks")!
    static let xMockChunkDelay = Self("x-mock-chunk-delay-ms")!
    static let xMockLatency = Self("x-mock-latency-ms")!
    static let xMockStatus = Self("x-mock-status")!
    static let xMockServedBy = Self("x-mock-served-by")!
    static let xMockGzip = Self("x-mock-gzip")!
    static let xMockEchoAs = Self("x-mock-echo-as")!
    static let xMockEchoStatus = Self("x-mock-echo-status")!
    static let xMockEchoKeyAt = Self("x-mock-echo-key-at")!
    static let xMockChunkBytes = Self("x-mock-chunk-bytes")!
    static let xMockRedirect = Self("x-mock-redirect")!
    static let xRateLimitResetRequests = Self("x-ratelimit-reset-requests")!
    static let xRateLimitRemainingRequests = Self("x-ratelimit-remaining-requests")!
}
