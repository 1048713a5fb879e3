/// The client side of one API format: reads the client's requests, writes answers, errors, model lists and
/// stream events in its shapes. One conformer per client format.
public protocol ClientWireFormat: Sendable {
    /// Reads a chat request. `call` carries what the path says (Gemini puts model and streaming there).
    static func decodeRequest(_ body: JSONObject, call: ChatCall, dropped: inout DroppedFeatures) throws(ConversionFailure) -> ChatRequest
    static func encodeResponse(_ response: ChatResponse, context: ResponseContext, dropped: inout DroppedFeatures) -> JSONValue
    static func encodeError(_ error: UpstreamError) -> JSONValue
    static func encodeModels(_ models: [ModelInfo]) -> JSONValue
    static func makeStreamEncoder(_ options: ClientStreamOptions) -> any ClientStreamEncoder
}

/// Writes one client stream: stream events in, the client's SSE bytes out.
///
/// An `.error` event ends the stream: its caller (`StreamConversion`) calls neither `encode` nor `finish` after it,
/// so no encoder keeps a flag of its own for that.
public protocol ClientStreamEncoder: Sendable {
    mutating func encode(_ event: StreamEvent, into out: inout [UInt8])
    /// The stream is over (after the last event): close open blocks, write the terminator.
    mutating func finish(into out: inout [UInt8])
}

/// What a client's request said that its answer needs later.
public struct ClientStreamOptions: Sendable, Equatable {
    /// OpenAI `stream_options.include_usage`: a final chunk with usage and no choices.
    public var includeUsage: Bool
    /// Gemini `?alt=sse`: SSE events; without it a JSON array written element by element.
    public var serverSentEvents: Bool
    /// Unix seconds stamped on events that carry a creation time.
    public var created: Int

    public init(includeUsage: Bool = false, serverSentEvents: Bool = true, created: Int = 0) {
        self.includeUsage = includeUsage
        self.serverSentEvents = serverSentEvents
        self.created = created
    }
}

/// What an answer's encoder needs beyond the answer itself.
public struct ResponseContext: Sendable, Equatable {
    /// Unix seconds, for answers whose upstream gave none.
    public var created: Int

    public init(created: Int) { self.created = created }
}
