/// Reads Gemini's `alt=sse` stream: every event a whole `GenerateContentResponse` holding the next text,
/// whole function calls (Gemini does not split arguments), and usage so far; the last one has a finish reason.
struct GeminiStreamDecoder: UpstreamStreamDecoder {
    private(set) var sawEnd = false
    private var started = false
    private var callCount = 0

    mutating func decode(_ event: SSEEvent, dropped: inout DroppedFeatures) -> [StreamEvent] {
        guard let chunk = try? JSONParser.parse(event.data) else {
            return [.error(UpstreamError(status: 502, kind: .server, message: "The upstream sent an event that is not JSON."))]
        }
        if let error = chunk["error"], !error.isNull {
            return [.error(GeminiFormat.decodeError(status: error["code"]?.int ?? 500, body: chunk, retryAfterSeconds: nil))]
        }
        var events: [StreamEvent] = []
        if !started {
            started = true
            events.append(.start(id: chunk["responseId"]?.string ?? "gemini", model: chunk["modelVersion"]?.string ?? ""))
        }
        let candidate = chunk["candidates"]?.array?.first
        let firstCall = callCount
        for part in GeminiFormat.candidateParts(candidate, callCount: &callCount, dropped: &dropped) {
            switch part {
            case .text(let text) where !text.isEmpty:
                events.append(.textDelta(text))
            case .toolCall(let call):
                let index = firstCall + events.count(where: { if case .toolCallStart = $0 { true } else { false } })
                events.append(.toolCallStart(index: index, id: call.id, name: call.name))
                events.append(.toolCallArgumentsDelta(index: index, fragment: call.arguments))
            default:
                break
            }
        }
        if let usage = GeminiFormat.usage(chunk["usageMetadata"]) { events.append(.usage(usage)) }
        if let reason = GeminiFormat.finishReason(candidate?["finishReason"]?.string, hasToolCalls: callCount > 0) {
            sawEnd = true
            events.append(.finish(reason))
        } else if chunk["promptFeedback"]?["blockReason"] != nil {
            sawEnd = true
            events.append(.finish(.contentFilter))
        }
        return events
    }
}
