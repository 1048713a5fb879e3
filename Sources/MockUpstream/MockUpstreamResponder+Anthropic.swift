import Hummingbird

extension MockUpstreamResponder {
    /// `POST .../messages`: an Anthropic message, or with `"stream": true` the event sequence
    /// message_start, content_block_start, content_block_delta x chunks, content_block_stop, message_delta, message_stop.
    /// With tools offered, a `tool_use` block (streamed as `input_json_delta`s) instead of text.
    static func anthropicMessage(_ reply: Reply, request: ProviderRequest) -> Response {
        let id = JSONText.quote("msg_mock_\(reply.sequence)")
        let model = JSONText.quote(request.model ?? "mock-claude")
        let toolID = JSONText.quote("toolu_mock_\(reply.sequence)")
        let stopReason = reply.toolCall == nil ? "end_turn" : "tool_use"
        guard request.stream else {
            let content = reply.toolCall.map { call in
                #"{"type":"tool_use","id":\#(toolID),"name":\#(JSONText.quote(call.name)),"input":\#(call.arguments)}"#
            } ?? #"{"type":"text","text":\#(JSONText.quote(reply.text))}"#
            let body = #"{"id":\#(id),"type":"message","role":"assistant","model":\#(model),"#
                + #""content":[\#(content)],"stop_reason":"\#(stopReason)","stop_sequence":null,"#
                + #""usage":{"input_tokens":1,"output_tokens":1}}"#
            return json(200, body)
        }
        func event(_ name: String, _ data: String) -> String { "event: \(name)\ndata: \(data)\n\n" }
        var start = event("message_start", #"{"type":"message_start","message":{"id":\#(id),"type":"message","role":"assistant","model":\#(model),"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":0}}}"#)
        var deltas: [String]
        if let call = reply.toolCall {
            start += event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":\#(toolID),"name":\#(JSONText.quote(call.name)),"input":{}}}"#)
            deltas = reply.argumentPieces.map {
                event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":\#(JSONText.quote($0))}}"#)
            }
        } else {
            start += event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#)
            deltas = reply.pieces.map {
                event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\#(JSONText.quote($0))}}"#)
            }
        }
        let end = event("content_block_stop", #"{"type":"content_block_stop","index":0}"#)
            + event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"\#(stopReason)","stop_sequence":null},"usage":{"output_tokens":\#(reply.chunks)}}"#)
            + event("message_stop", #"{"type":"message_stop"}"#)
        // The opening events ride with the first delta and the closing ones form the last unit, so the stream
        // takes chunks x delay, like the OpenAI one.
        if deltas.isEmpty { deltas = [start] } else { deltas[0] = start + deltas[0] }
        deltas.append(end)
        return eventStream(deltas, delay: reply.chunkDelay)
    }
}
