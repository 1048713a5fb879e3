/// One streamed answer converted as it arrives: the upstream's SSE bytes in (split anywhere), the client's
/// bytes out, each client event written as soon as the upstream event it comes from is complete.
/// Memory per stream is bounded by the SSE parser's limit (one unfinished event) plus what the client format's
/// closing events must repeat (Responses' full text).
public struct StreamConversion: Sendable {
    private var parser: SSEParser
    private var decoder: any UpstreamStreamDecoder
    private var encoder: any ClientStreamEncoder
    private var finished = false
    private var failed = false
    public private(set) var usage: TokenUsage?
    public private(set) var dropped = DroppedFeatures()
    /// The client's `Content-Type`: an event stream, or JSON for a Gemini client that did not ask for `alt=sse`.
    public let contentType: String

    public init(pair: FormatPair, options: ClientStreamOptions, eventLimit: Int = SSEParser.defaultLimit) {
        contentType = pair.client == .gemini && !options.serverSentEvents ? "application/json" : "text/event-stream"
        parser = SSEParser(limit: eventLimit)
        decoder = pair.upstreamFormat.makeStreamDecoder()
        encoder = pair.clientFormat.makeStreamEncoder(options)
    }

    /// Bytes of the upstream's body, as they came off the wire; returns the client's bytes to write now.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [UInt8] {
        guard !finished, !failed else { return [] }
        var out: [UInt8] = []
        do {
            for event in try parser.feed(bytes) { deliver(event, into: &out) }
        } catch {
            fail(UpstreamError(status: 502, kind: .unavailable, message: "The upstream stream was cut: \(error.description)."), into: &out)
        }
        return out
    }

    /// The upstream's body ended: the client's closing events. A stream that ended before the upstream said it
    /// was complete ends with an error event, so a cut answer never looks whole.
    public mutating func finish() -> [UInt8] {
        guard !finished else { return [] }
        finished = true
        var out: [UInt8] = []
        guard !failed else { return out }
        if let event = parser.finish() { deliver(event, into: &out) }
        guard !failed else { return out }
        if !decoder.sawEnd {
            fail(UpstreamError(status: 502, kind: .unavailable, message: "The upstream stream ended before the answer was complete."), into: &out)
            return out
        }
        encoder.finish(into: &out)
        return out
    }

    /// Whether the stream broke off with an error (from the upstream or the conversion).
    public var endedWithError: Bool { failed }

    private mutating func deliver(_ event: SSEEvent, into out: inout [UInt8]) {
        for converted in decoder.decode(event, dropped: &dropped) {
            switch converted {
            case .usage(let reported):
                usage = TokenUsage(
                    inputTokens: reported.inputTokens > 0 ? reported.inputTokens : usage?.inputTokens ?? 0,
                    outputTokens: reported.outputTokens > 0 ? reported.outputTokens : usage?.outputTokens ?? 0)
            case .error:
                failed = true
            default:
                break
            }
            encoder.encode(converted, into: &out)
            if failed { return }
        }
    }

    private mutating func fail(_ error: UpstreamError, into out: inout [UInt8]) {
        failed = true
        encoder.encode(.error(error), into: &out)
    }
}
