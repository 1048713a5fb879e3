import Hummingbird

extension MockUpstreamResponder {
    /// `POST .../responses`: a Responses API `response`, or with `"stream": true` its semantic events, from
    /// `response.created` to `response.completed`. With tools offered, a `function_call` item instead of text.
    static func openAIResponse(_ reply: Reply, request: ProviderRequest) -> Response {
        let id = "resp_mock_\(reply.sequence)"
        let model = JSONText.quote(request.model ?? "mock-gpt")
        let itemID = reply.toolCall == nil ? "msg_mock_\(reply.sequence)" : "fc_mock_\(reply.sequence)"
        func item(status: String, text: String?, arguments: String?) -> String {
            if let call = reply.toolCall {
                return #"{"type":"function_call","id":"\#(itemID)","call_id":"\#(reply.toolCallID)","name":\#(JSONText.quote(call.name)),"#
                    + #""arguments":\#(JSONText.quote(arguments ?? "")),"status":"\#(status)"}"#
            }
            let content = text.map { #"[{"type":"output_text","text":\#(JSONText.quote($0)),"annotations":[]}]"# } ?? "[]"
            return #"{"type":"message","id":"\#(itemID)","status":"\#(status)","role":"assistant","content":\#(content)}"#
        }
        func response(status: String, output: String, usage: Bool) -> String {
            #"{"id":"\#(id)","object":"response","created_at":\#(Reply.created),"status":"\#(status)","error":null,"#
                + #""incomplete_details":null,"model":\#(model),"output":[\#(output)],"parallel_tool_calls":true,"tool_choice":"auto","#
                + #""tools":[],"usage":\#(usage ? #"{"input_tokens":1,"output_tokens":\#(max(1, reply.chunks)),"total_tokens":\#(max(1, reply.chunks) + 1)}"# : "null")}"#
        }
        let text = reply.pieces.joined()
        let arguments = reply.toolCall?.arguments
        let done = item(status: "completed", text: text, arguments: arguments)
        guard request.stream else {
            return json(200, response(status: "completed", output: done, usage: true))
        }
        var sequence = 0
        func event(_ type: String, _ fields: String) -> String {
            defer { sequence += 1 }
            return "event: \(type)\ndata: {\"type\":\"\(type)\",\"sequence_number\":\(sequence),\(fields)}\n\n"
        }
        let inProgress = response(status: "in_progress", output: "", usage: false)
        var opening = event("response.created", #""response":\#(inProgress)"#) + event("response.in_progress", #""response":\#(inProgress)"#)
        opening += event("response.output_item.added", #""output_index":0,"item":\#(item(status: "in_progress", text: nil, arguments: ""))"#)
        var deltas: [String]
        var closing: String
        if reply.toolCall != nil {
            deltas = reply.argumentPieces.map {
                event("response.function_call_arguments.delta", #""item_id":"\#(itemID)","output_index":0,"delta":\#(JSONText.quote($0))"#)
            }
            closing = event("response.function_call_arguments.done", #""item_id":"\#(itemID)","output_index":0,"arguments":\#(JSONText.quote(arguments ?? ""))"#)
        } else {
            opening += event("response.content_part.added", #""item_id":"\#(itemID)","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}"#)
            deltas = reply.pieces.map {
                event("response.output_text.delta", #""item_id":"\#(itemID)","output_index":0,"content_index":0,"delta":\#(JSONText.quote($0)),"logprobs":[]"#)
            }
            closing = event("response.output_text.done", #""item_id":"\#(itemID)","output_index":0,"content_index":0,"text":\#(JSONText.quote(text)),"logprobs":[]"#)
                + event("response.content_part.done", #""item_id":"\#(itemID)","output_index":0,"content_index":0,"part":{"type":"output_text","text":\#(JSONText.quote(text)),"annotations":[]}"#)
        }
        closing += event("response.output_item.done", #""output_index":0,"item":\#(done)"#)
            + event("response.completed", #""response":\#(response(status: "completed", output: done, usage: true))"#)
        // As with the other streams: the opening events ride with the first delta, the closing ones form the last unit.
        if deltas.isEmpty { deltas = [opening] } else { deltas[0] = opening + deltas[0] }
        deltas.append(closing)
        return eventStream(deltas, delay: reply.chunkDelay)
    }
}
