/// Writes Anthropic's event sequence: `message_start`, one `content_block_start`/`_delta`/`_stop` group per
/// text run or tool call, then `message_delta` (stop reason, output tokens) and `message_stop` at the end.
struct AnthropicStreamEncoder: ClientStreamEncoder {
    private enum OpenBlock: Equatable {
        case text
        case tool(Int)
    }

    private var started = false
    private var blockCount = 0
    private var open: OpenBlock?
    private var stopReason = "end_turn"
    private var usage = TokenUsage(inputTokens: 0, outputTokens: 0)

    mutating func encode(_ event: StreamEvent, into out: inout [UInt8]) {
        switch event {
        case .start(let id, let model):
            started = true
            let message = JSONObject([
                ("id", .string(id)), ("type", "message"), ("role", "assistant"), ("model", .string(model)), ("content", .array([])),
                ("stop_reason", .null), ("stop_sequence", .null), ("usage", AnthropicFormat.encodeUsage(usage)),
            ])
            write("message_start", [("message", .object(message))], into: &out)
        case .textDelta(let text):
            if open != .text {
                openBlock(.text, JSONObject([("type", "text"), ("text", "")]), into: &out)
            }
            write("content_block_delta", [
                ("index", .int(blockCount - 1)), ("delta", .object(JSONObject([("type", "text_delta"), ("text", .string(text))]))),
            ], into: &out)
        case .toolCallStart(let index, let id, let name):
            openBlock(.tool(index), JSONObject([
                ("type", "tool_use"), ("id", .string(id)), ("name", .string(name)), ("input", .object(JSONObject())),
            ]), into: &out)
        case .toolCallArgumentsDelta(let index, let fragment):
            guard open == .tool(index) else { return }
            write("content_block_delta", [
                ("index", .int(blockCount - 1)),
                ("delta", .object(JSONObject([("type", "input_json_delta"), ("partial_json", .string(fragment))]))),
            ], into: &out)
        case .finish(let reason):
            stopReason = AnthropicFormat.stopReason(reason)
            closeBlock(into: &out)
        case .usage(let reported):
            if reported.inputTokens > 0 { usage.inputTokens = reported.inputTokens }
            if reported.outputTokens > 0 { usage.outputTokens = reported.outputTokens }
        case .error(let error):
            write("error", [("error", AnthropicFormat.encodeError(error)["error"] ?? .null)], into: &out)
        }
    }

    mutating func finish(into out: inout [UInt8]) {
        if !started { encode(.start(id: "msg", model: ""), into: &out) }
        closeBlock(into: &out)
        write("message_delta", [
            ("delta", .object(JSONObject([("stop_reason", .string(stopReason)), ("stop_sequence", .null)]))),
            // Input tokens too: an upstream that reports usage only at its end (OpenAI) could not say them in message_start.
            ("usage", .object(JSONObject([("input_tokens", .int(usage.inputTokens)), ("output_tokens", .int(usage.outputTokens))]))),
        ], into: &out)
        write("message_stop", [], into: &out)
    }

    private mutating func openBlock(_ block: OpenBlock, _ contentBlock: JSONObject, into out: inout [UInt8]) {
        closeBlock(into: &out)
        open = block
        write("content_block_start", [("index", .int(blockCount)), ("content_block", .object(contentBlock))], into: &out)
        blockCount += 1
    }

    private mutating func closeBlock(into out: inout [UInt8]) {
        guard open != nil else { return }
        open = nil
        write("content_block_stop", [("index", .int(blockCount - 1))], into: &out)
    }

    private func write(_ type: String, _ members: [(String, JSONValue)], into out: inout [UInt8]) {
        SSEEvent.write(name: type, json: .object(JSONObject([("type", .string(type))] + members)), into: &out)
    }
}
