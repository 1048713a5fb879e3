/// Reads `chat.completion.chunk` events up to `[DONE]`. Tool calls arrive by their `index`; the first
/// fragment of each carries its id and name.
struct OpenAIChatStreamDecoder: UpstreamStreamDecoder {
    private(set) var sawEnd = false
    private var started = false
    private var openedToolCalls: Set<Int> = []

    mutating func decode(_ event: SSEEvent, dropped: inout DroppedFeatures) -> [StreamEvent] {
        if event.data == "[DONE]" {
            sawEnd = true
            return []
        }
        guard let chunk = try? JSONParser.parse(event.data) else {
            return [.error(UpstreamError(status: 502, kind: .server, message: "The upstream sent an event that is not JSON."))]
        }
        if let error = chunk["error"], !error.isNull {
            return [.error(OpenAIErrorShape.decode(status: error["code"]?.int ?? 500, body: chunk, retryAfterSeconds: nil))]
        }
        var events: [StreamEvent] = []
        if !started {
            started = true
            events.append(.start(id: chunk["id"]?.string ?? "chatcmpl", model: chunk["model"]?.string ?? ""))
        }
        if let choice = chunk["choices"]?.array?.first {
            let delta = choice["delta"]
            if let text = delta?["content"]?.string, !text.isEmpty { events.append(.textDelta(text)) }
            for call in delta?["tool_calls"]?.array ?? [] {
                let index = call["index"]?.int ?? 0
                let function = call["function"]
                if !openedToolCalls.contains(index) {
                    openedToolCalls.insert(index)
                    events.append(.toolCallStart(index: index, id: call["id"]?.string ?? "call_\(index)", name: function?["name"]?.string ?? ""))
                }
                if let fragment = function?["arguments"]?.string, !fragment.isEmpty {
                    events.append(.toolCallArgumentsDelta(index: index, fragment: fragment))
                }
            }
            if let reason = OpenAIChatFormat.finishReason(choice["finish_reason"]?.string) { events.append(.finish(reason)) }
        }
        if let usage = OpenAIChatFormat.usage(chunk["usage"]) { events.append(.usage(usage)) }
        return events
    }
}
