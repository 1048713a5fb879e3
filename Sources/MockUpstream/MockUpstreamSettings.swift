/// Server-wide knobs; each request may override the streaming and latency ones with `x-mock-*` headers.
public struct MockUpstreamSettings: Sendable, Equatable, Codable {
    /// Content events per streamed answer (`x-mock-chunks` overrides).
    public var chunks: Int
    /// Pause before each streamed event after the first (`x-mock-chunk-delay-ms` overrides).
    public var chunkDelayMilliseconds: Int
    /// Added before every answer, on top of the key's and the request's latency.
    public var latencyMilliseconds: Int
    /// Extra headers a generic REST upstream may carry its key in. `Authorization: Bearer`, `x-api-key`
    /// and `x-goog-api-key` are always read.
    public var keyHeaderNames: [String]
    /// Extra query parameters a generic REST upstream may carry its key in. `key` is always read.
    public var keyQueryNames: [String]
    /// How many recent requests to keep for inspection; 0 turns recording off (load tests).
    public var recordedRequestLimit: Int
    /// Larger bodies are answered 413.
    public var maxBodyBytes: Int

    public init(
        chunks: Int = 5,
        chunkDelayMilliseconds: Int = 0,
        latencyMilliseconds: Int = 0,
        keyHeaderNames: [String] = ["X-Api-Key"],
        keyQueryNames: [String] = ["api_key"],
        recordedRequestLimit: Int = 200,
        maxBodyBytes: Int = 16 * 1024 * 1024
    ) {
        self.chunks = chunks
        self.chunkDelayMilliseconds = chunkDelayMilliseconds
        self.latencyMilliseconds = latencyMilliseconds
        self.keyHeaderNames = keyHeaderNames
        self.keyQueryNames = keyQueryNames
        self.recordedRequestLimit = recordedRequestLimit
        self.maxBodyBytes = maxBodyBytes
    }
}
