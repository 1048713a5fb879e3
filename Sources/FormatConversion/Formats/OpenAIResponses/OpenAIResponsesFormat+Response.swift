extension OpenAIResponsesFormat {
    public static func encodeResponse(_ response: ChatResponse, context: ResponseContext, dropped: inout DroppedFeatures) -> JSONValue {
        var output: [JSONValue] = []
        let text = response.text
        if !text.isEmpty { output.append(messageItem(id: "msg_\(response.id)", text: text, status: "completed")) }
        for (index, call) in response.toolCalls.enumerated() {
            output.append(functionCallItem(call, itemID: "fc_\(response.id)_\(index)", status: "completed"))
        }
        return responseObject(
            id: responseID(response.id), model: response.model, created: response.created ?? context.created, output: output,
            finishReason: response.finishReason, usage: response.usage)
    }

    /// Responses ids start with `resp_`; other formats' ids are kept behind the prefix.
    static func responseID(_ id: String) -> String {
        id.hasPrefix("resp_") ? id : "resp_\(id)"
    }
}
