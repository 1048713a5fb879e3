import Hummingbird

extension MockUpstreamResponder {
    /// `POST .../models/{model}:generateContent`.
    static func geminiContent(_ reply: Reply, model: String) -> Response {
        json(200, geminiCandidate(reply.text, finished: true, model: model, tokens: 1))
    }

    /// `POST .../models/{model}:streamGenerateContent`: with `?alt=sse` one `data:` event per piece, CRLF-framed
    /// as Google sends them; without it, one JSON array written piece by piece.
    static func geminiStream(_ reply: Reply, model: String, sse: Bool) -> Response {
        let pieces = reply.pieces
        let candidates = pieces.enumerated().map { index, piece in
            geminiCandidate(piece, finished: index == pieces.count - 1, model: model, tokens: index + 1)
        }
        if sse {
            return eventStream(candidates.map { "data: \($0)\r\n\r\n" }, delay: reply.chunkDelay)
        }
        var units = candidates.enumerated().map { index, candidate in (index == 0 ? "[" : ",\r\n") + candidate }
        if units.isEmpty { units = ["["] }
        units.append("]")
        return eventStream(units, delay: reply.chunkDelay, contentType: "application/json")
    }

    private static func geminiCandidate(_ text: String, finished: Bool, model: String, tokens: Int) -> String {
        let finish = finished ? #","finishReason":"STOP""# : ""
        return #"{"candidates":[{"content":{"parts":[{"text":\#(JSONText.quote(text))}],"role":"model"}\#(finish),"index":0}],"#
            + #""usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":\#(tokens),"totalTokenCount":\#(tokens + 1)},"#
            + #""modelVersion":\#(JSONText.quote(model))}"#
    }
}
