/// The upstream side of one API format: writes requests in its shape and reads its answers, errors,
/// model lists and stream events. One conformer per upstream format.
public protocol UpstreamWireFormat: Sendable {
    static func encodeRequest(_ request: ChatRequest, dropped: inout DroppedFeatures) throws(ConversionFailure) -> UpstreamRequest
    static func decodeResponse(_ body: JSONValue, dropped: inout DroppedFeatures) throws(ConversionFailure) -> ChatResponse
    /// Reads an error answer; `body` is nil when it was not JSON.
    static func decodeError(status: Int, body: JSONValue?, retryAfterSeconds: Int?) -> UpstreamError
    static func decodeModels(_ body: JSONValue) throws(ConversionFailure) -> [ModelInfo]
    /// `GET` path of the model list, from the origin (the caller joins it to the config's base URL).
    static var modelsPath: String { get }
    static func makeStreamDecoder() -> any UpstreamStreamDecoder
}

/// Reads one upstream stream: the upstream's SSE events in, stream events out.
public protocol UpstreamStreamDecoder: Sendable {
    mutating func decode(_ event: SSEEvent, dropped: inout DroppedFeatures) -> [StreamEvent]
    /// Whether the upstream said its answer is complete (`[DONE]`, `message_stop`, a finish reason).
    var sawEnd: Bool { get }
}
