/// Reads `message_start`, `content_block_*`, `message_delta`, `message_stop` (and `ping`, `error`).
/// Content blocks are numbered by Anthropic across text and tool use; tool calls are renumbered from 0.
struct AnthropicStreamDecoder: UpstreamStreamDecoder {
    private(set) var sawEnd = false
    /// Anthropic block index -> our tool-call index.
    private var toolIndexByBlock: [Int: Int] = [:]
    private var usage = TokenUsage(inputTokens: 0, outputTokens: 0)

    mutating func decode(_ event: SSEEvent, dropped: inout DroppedFeatures) -> [StreamEvent] {
        guard let payload = try? JSONParser.parse(event.data) else {
            return [.error(UpstreamError(status: 502, kind: .server, message: "The upstream sent an event that is not JSON."))]
        }
        switch payload["type"]?.string ?? event.name {
        case "message_start"?:
            let message = payload["message"]
            if let reported = AnthropicFormat.usage(message?["usage"]) { usage = reported }
            return [.start(id: message?["id"]?.string ?? "msg", model: message?["model"]?.string ?? ""), .usage(usage)]
        case "content_block_start"?:
            let block = payload["content_block"]
            guard block?["type"]?.string == "tool_use" else {
                if let text = block?["text"]?.string, !text.isEmpty { return [.textDelta(text)] }
                return []
            }
            let index = toolIndexByBlock.count
            toolIndexByBlock[payload["index"]?.int ?? index] = index
            return [.toolCallStart(index: index, id: block?["id"]?.string ?? "toolu_\(index)", name: block?["name"]?.string ?? "")]
        case "content_block_delta"?:
            let delta = payload["delta"]
            switch delta?["type"]?.string {
            case "text_delta"?: return [.textDelta(delta?["text"]?.string ?? "")]
            case "input_json_delta"?:
                guard let index = toolIndexByBlock[payload["index"]?.int ?? -1], let fragment = delta?["partial_json"]?.string, !fragment.isEmpty else {
                    return []
                }
                return [.toolCallArgumentsDelta(index: index, fragment: fragment)]
            case let other:
                dropped.add("stream delta '\(other ?? "?")'")
                return []
            }
        case "message_delta"?:
            var events: [StreamEvent] = []
            if let output = payload["usage"]?["output_tokens"]?.int {
                usage.outputTokens = output
                if let input = payload["usage"]?["input_tokens"]?.int, input > 0 { usage.inputTokens = input }
                events.append(.usage(usage))
            }
            if let reason = AnthropicFormat.finishReason(payload["delta"]?["stop_reason"]?.string) { events.insert(.finish(reason), at: 0) }
            return events
        case "message_stop"?:
            sawEnd = true
            return []
        case "error"?:
            let error = payload["error"]
            let status = error?["type"]?.string == "overloaded_error" ? 529 : 500
            return [.error(AnthropicFormat.decodeError(status: status, body: payload, retryAfterSeconds: nil))]
        default:
            return []
        }
    }
}
