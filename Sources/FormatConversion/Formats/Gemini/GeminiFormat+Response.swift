extension GeminiFormat {
    public static func decodeResponse(_ body: JSONValue, dropped: inout DroppedFeatures) throws(ConversionFailure) -> ChatResponse {
        guard body["candidates"] != nil || body["promptFeedback"] != nil else {
            throw ConversionFailure(status: 502, "The upstream answer has no 'candidates'.")
        }
        let candidates = body["candidates"]?.array ?? []
        if candidates.count > 1 { dropped.add("candidates after the first") }
        var calls = 0
        let parts = candidateParts(candidates.first, callCount: &calls, dropped: &dropped)
        var finish = finishReason(candidates.first?["finishReason"]?.string, hasToolCalls: calls > 0)
        if candidates.isEmpty, body["promptFeedback"]?["blockReason"] != nil { finish = .contentFilter }
        return ChatResponse(
            id: body["responseId"]?.string ?? "gemini", model: body["modelVersion"]?.string ?? "", parts: parts,
            finishReason: finish, usage: usage(body["usageMetadata"]))
    }

    /// Text and function calls of one candidate; calls are numbered on from `callCount` (`call_N` ids).
    static func candidateParts(_ candidate: JSONValue?, callCount: inout Int, dropped: inout DroppedFeatures) -> [MessagePart] {
        var parts: [MessagePart] = []
        for part in candidate?["content"]?["parts"]?.array ?? [] {
            if let text = part["text"]?.string {
                if part["thought"]?.bool == true { dropped.add("thought parts"); continue }
                parts.append(.text(text))
            } else if let function = part["functionCall"] {
                parts.append(.toolCall(ToolCall(
                    id: function["id"]?.string ?? "call_\(callCount)", name: function["name"]?.string ?? "",
                    arguments: ToolArguments.text(function["args"]))))
                callCount += 1
            } else {
                dropped.add("part '\(part.object?.keys.first ?? "?")'")
            }
        }
        return parts
    }

    public static func encodeResponse(_ response: ChatResponse, context: ResponseContext, dropped: inout DroppedFeatures) -> JSONValue {
        let parts = response.parts.compactMap { part -> JSONValue? in
            switch part {
            case .text(let text): return .object(JSONObject([("text", .string(text))]))
            case .toolCall(let call): return functionCallPart(call, dropped: &dropped)
            case .image, .toolResult: return nil
            }
        }
        var candidate = JSONObject([("content", .object(JSONObject([("parts", .array(parts)), ("role", "model")])))])
        candidate["finishReason"] = .string(finishReason(response.finishReason ?? .stop))
        candidate["index"] = 0
        var body = JSONObject([("candidates", .array([.object(candidate)]))])
        body.set("usageMetadata", response.usage.map(encodeUsage))
        body["modelVersion"] = .string(response.model)
        body["responseId"] = .string(response.id)
        return .object(body)
    }
}
