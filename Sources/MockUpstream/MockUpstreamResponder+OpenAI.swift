import Hummingbird

extension MockUpstreamResponder {
    /// `POST .../chat/completions`: a chat.completion, or with `"stream": true` chunk events then `[DONE]`.
    static func chatCompletion(_ reply: Reply, request: GenerationRequest) -> Response {
        let id = JSONText.quote("chatcmpl-mock-\(reply.sequence)")
        let model = JSONText.quote(request.model ?? "mock-gpt")
        guard request.stream == true else {
            let body = #"{"id":\#(id),"object":"chat.completion","created":\#(Reply.created),"model":\#(model),"#
                + #""choices":[{"index":0,"message":{"role":"assistant","content":\#(JSONText.quote(reply.text))},"finish_reason":"stop"}],"#
                + #""usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#
            return json(200, body)
        }
        let pieces = reply.pieces
        var units = pieces.enumerated().map { index, piece in
            let role = index == 0 ? #""role":"assistant","# : ""
            let finish = index == pieces.count - 1 ? #""stop""# : "null"
            return #"data: {"id":\#(id),"object":"chat.completion.chunk","created":\#(Reply.created),"model":\#(model),"#
                + #""choices":[{"index":0,"delta":{\#(role)"content":\#(JSONText.quote(piece))},"finish_reason":\#(finish)}]}"#
                + "\n\n"
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
