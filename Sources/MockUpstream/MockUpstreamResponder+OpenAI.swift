import Hummingbird

extension MockUpstreamResponder {
    /// `POST .../chat/completions`: a chat.completion, or with `"stream": true` chunk events then `[DONE]`
    /// (a usage chunk first when `stream_options.include_usage` asks). With tools offered, a call to the first.
    static func chatCompletion(_ reply: Reply, request: ProviderRequest) -> Response {
        let id = JSONText.quote("chatcmpl-mock-\(reply.sequence)")
        let model = JSONText.quote(request.model ?? "mock-gpt")
        let head = #"{"id":\#(id),"object":"chat.completion"#
        let tail = #","created":\#(Reply.created),"model":\#(model),"#
        let usage = #"{"prompt_tokens":1,"completion_tokens":\#(max(1, reply.chunks)),"total_tokens":\#(max(1, reply.chunks) + 1)}"#
        guard request.stream else {
            let message: String
            let finish: String
            if let call = reply.toolCall {
                message = #"{"role":"assistant","content":null,"tool_calls":[{"id":"\#(reply.toolCallID)","type":"function","#
                    + #""function":{"name":\#(JSONText.quote(call.name)),"arguments":\#(JSONText.quote(call.arguments))}}]}"#
                finish = "tool_calls"
            } else {
                message = #"{"role":"assistant","content":\#(JSONText.quote(reply.text))}"#
                finish = "stop"
            }
            let body = head + "\"" + tail + #""choices":[{"index":0,"message":\#(message),"finish_reason":"\#(finish)"}],"#
                + #""usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#
            return json(200, body)
        }
        func chunk(_ delta: String, finish: String?) -> String {
            "data: " + head + ".chunk\"" + tail
                + #""choices":[{"index":0,"delta":\#(delta),"finish_reason":\#(finish.map { "\"\($0)\"" } ?? "null")}]}"# + "\n\n"
        }
        var units: [String]
        if let call = reply.toolCall {
            let start = #"{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"\#(reply.toolCallID)","type":"function","function":{"name":\#(JSONText.quote(call.name)),"arguments":""}}]}"#
            units = [chunk(start, finish: nil)]
            units += reply.argumentPieces.map { chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":\#(JSONText.quote($0))}}]}"#, finish: nil) }
            units.append(chunk("{}", finish: "tool_calls"))
        } else {
            let pieces = reply.pieces
            units = pieces.enumerated().map { index, piece in
                let role = index == 0 ? #""role":"assistant","# : ""
                return chunk(#"{\#(role)"content":\#(JSONText.quote(piece))}"#, finish: index == pieces.count - 1 ? "stop" : nil)
            }
        }
        if request.includeUsage {
            units.append("data: " + head + ".chunk\"" + tail + #""choices":[],"usage":\#(usage)}"# + "\n\n")
        }
        units.append("data: [DONE]\n\n")
        return eventStream(units, delay: reply.chunkDelay)
    }

    /// `GET .../models` in the shape of the provider the credential points at.
    static func models(_ dialect: ProviderDialect) -> Response {
        switch dialect {
        case .anthropic:
            return json(200, #"{"data":[{"type":"model","id":"mock-claude","display_name":"Mock Claude","created_at":"2023-11-14T22:13:20Z"}],"has_more":false,"first_id":"mock-claude","last_id":"mock-claude"}"#)
        case .gemini:
            return json(200, #"{"models":[{"name":"models/gemini-mock","displayName":"Mock Gemini","supportedGenerationMethods":["generateContent","streamGenerateContent"]}]}"#)
        case .openAI, .generic:
            return json(200, #"{"object":"list","data":[{"id":"mock-gpt","object":"model","created":\#(Reply.created),"owned_by":"mock-upstream"},{"id":"mock-gpt-mini","object":"model","created":\#(Reply.created),"owned_by":"mock-upstream"}]}"#)
        }
    }

    /// Any other route: what arrived, so `/proxy/{slug}` tests can check the URL the rotator built.
    static func echo(_ request: Request, body: ByteBuffer, keySuffix: String) -> Response {
        let query = request.uri.query.map(JSONText.quote) ?? "null"
        return json(
            200,
            #"{"method":\#(JSONText.quote(request.method.rawValue)),"path":\#(JSONText.quote(request.uri.path)),"query":\#(query),"#
                + #""key_seen":true,"key_suffix":\#(JSONText.quote(keySuffix)),"body_bytes":\#(body.readableBytes)}"#
        )
    }
}
