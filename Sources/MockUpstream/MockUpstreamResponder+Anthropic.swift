import Hummingbird

extension MockUpstreamResponder {
    /// `POST .../messages`: an Anthropic message, or with `"stream": true` the event sequence
    /// message_start, content_block_start, content_block_delta x chunks, content_block_stop, message_delta, message_stop.
    static func anthropicMessage(_ reply: Reply, request: GenerationRequest) -> Response {
        let id = JSONText.quote("msg_mock_\(reply.sequence)")
        let model = JSONText.quote(request.model ?? "mock-claude")
        guard request.stream == true else {
            let body = #"{"id":\#(id),"type":"message","role":"assistant","model":\#(model),"#
                + #""content":[{"type":"text","text":\#(JSONText.quote(reply.text))}],"stop_reason":"end_turn","stop_sequence":null,"#
                + #""usage":{"input_tokens":1,"output_tokens":1}}"#
            return json(200, body)
        }
        func event(_ name: String, _ data: String) -> String { "event: \(name)\ndata: \(data)\n\n" }
        let start = event("message_start", #"{"type":"message_start","message":{"id":\#(id),"type":"message","role":"assistant","model":\#(model),"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":0}}}"#)
            + event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#)
        let deltas = reply.pieces.map {
            event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\#(JSONText.quote($0))}}"#)
        }
        let end = event("content_block_stop", #"{"type":"content_block_stop","index":0}"#)
            + event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":\#(reply.chunks)}}"#)
            + event("message_stop", #"{"type":"message_stop"}"#)
        // The opening events ride with the first delta and the closing ones form the last unit, so the stream
        // takes chunks x delay, like the OpenAI one.
        var units = deltas
        if units.isEmpty { units = [start] } else { units[0] = start + units[0] }
        units.append(end)
        return eventStream(units, delay: reply.chunkDelay)
    }
}
