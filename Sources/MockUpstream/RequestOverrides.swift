import HTTPTypes

/// Per-request `x-mock-*` headers, so one test can shape one answer without touching shared state.
struct RequestOverrides: Sendable, Equatable {
    var chunks: Int?
    var chunkDelayMilliseconds: Int?
    var latencyMilliseconds: Int
    /// Only 400...599: an error status is what pass-through tests need, and a forced 1xx/204/304 with a
    /// body would break the HTTP exchange rather than test anything.
    var status: Int?

    init(headers: HTTPFields) {
        chunks = Self.integer(headers[.xMockChunks], in: 0...100_000)
        chunkDelayMilliseconds = Self.integer(headers[.xMockChunkDelay], in: 0...600_000)
        latencyMilliseconds = Self.integer(headers[.xMockLatency], in: 0...600_000) ?? 0
        status = Self.integer(headers[.xMockStatus], in: 400...599)
    }

    private static func integer(_ text: String?, in range: ClosedRange<Int>) -> Int? {
        guard let text, let value = Int(text), range.contains(value) else { return nil }
        return value
    }
}
