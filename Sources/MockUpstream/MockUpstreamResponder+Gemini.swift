import Hummingbird

extension MockUpstreamResponder {
    /// `POST .../models/{model}:generateContent`. With tools offered, a `functionCall` part instead of text.
    static func geminiContent(_ reply: Reply, model: String) -> Response {
        json(200, geminiCandidate(geminiPart(reply.text, reply: reply), finished: true, model: model, tokens: 1))
    }

    /// `POST .../models/{model}:streamGenerateContent`: with `?alt=sse` one `data:` event per piece, CRLF-framed
    /// as Google sends them; without it, one JSON array written piece by piece. A function call comes whole, in one event.
    static func geminiStream(_ reply: Reply, model: String, sse: Bool) -> Response {
        let pieces = reply.toolCall == nil ? reply.pieces : [""]
        let candidates = pieces.enumerated().map { index, piece in
            geminiCandidate(geminiPart(piece, reply: reply), finished: index == pieces.count - 1, model: model, tokens: index + 1)
        }
        if sse {
            return eventStream(candidates.map { "data: \($0)\r\n\r\n" }, delay: reply.chunkDelay)
        }
        var units = candidates.enumerated().map { index, candidate in (index == 0 ? "[" : ",\r\n") + candidate }
        if units.isEmpty { units = ["["] }
        units.append("]")
        return eventStream(units, delay: reply.chunkDelay, contentType: "application/json")
    }

    private static func geminiPart(_ text: String, reply: Reply) -> String {
        guard let call = reply.toolCall else { return #"{"text":\#(JSONText.quote(text))}"# }
        return #"{"functionCall":{"name":\#(JSONText.quote(call.name)),"args":\#(call.arguments)}}"#
    }

    private static func geminiCandidate(_ part: String, finished: Bool, model: String, tokens: Int) -> String {
        let finish = finished ? #","finishReason":"STOP""# : ""
        return #"{"candidates":[{"content":{"parts":[\#(part)],"role":"model"}\#(finish),"index":0}],"#
            + #""usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":\#(tokens),"totalTokenCount":\#(tokens + 1)},"#
            + #""modelVersion":\#(JSONText.quote(model))}"#
    }
}
