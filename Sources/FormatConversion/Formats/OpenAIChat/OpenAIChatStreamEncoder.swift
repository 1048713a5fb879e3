/// Writes `data: {chat.completion.chunk}` events and the closing `data: [DONE]`.
struct OpenAIChatStreamEncoder: ClientStreamEncoder {
    let options: ClientStreamOptions
    private var id = "chatcmpl"
    private var model = ""
    private var usage: TokenUsage?

    init(options: ClientStreamOptions) { self.options = options }

    mutating func encode(_ event: StreamEvent, into out: inout [UInt8]) {
        switch event {
        case .start(let id, let model):
            self.id = id
            self.model = model
            write(delta: JSONObject([("role", "assistant"), ("content", "")]), into: &out)
        case .textDelta(let text):
            write(delta: JSONObject([("content", .string(text))]), into: &out)
        case .toolCallStart(let index, let id, let name):
            let call = JSONObject([
                ("index", .int(index)), ("id", .string(id)), ("type", "function"),
                ("function", .object(JSONObject([("name", .string(name)), ("arguments", "")]))),
            ])
            write(delta: JSONObject([("tool_calls", .array([.object(call)]))]), into: &out)
        case .toolCallArgumentsDelta(let index, let fragment):
            let call = JSONObject([("index", .int(index)), ("function", .object(JSONObject([("arguments", .string(fragment))])))])
            write(delta: JSONObject([("tool_calls", .array([.object(call)]))]), into: &out)
        case .finish(let reason):
            write(delta: JSONObject(), finishReason: OpenAIChatFormat.finishReason(reason), into: &out)
        case .usage(let usage):
            self.usage = usage
        case .error(let error):
            SSEEvent.write(name: nil, json: OpenAIErrorShape.encode(error), into: &out)
        }
    }

    mutating func finish(into out: inout [UInt8]) {
        if options.includeUsage, let usage {
            SSEEvent.write(name: nil, json: chunk(choices: [], usage: OpenAIChatFormat.encodeUsage(usage)), into: &out)
        }
        out.append(contentsOf: "data: [DONE]\n\n".utf8)
    }

    private func write(delta: JSONObject, finishReason: String? = nil, into out: inout [UInt8]) {
        let choice = JSONValue.object(JSONObject([
            ("index", 0), ("delta", .object(delta)), ("logprobs", .null), ("finish_reason", finishReason.map(JSONValue.string) ?? .null),
        ]))
        SSEEvent.write(name: nil, json: chunk(choices: [choice], usage: nil), into: &out)
    }

    private func chunk(choices: [JSONValue], usage: JSONValue?) -> JSONValue {
        var chunk = JSONObject([
            ("id", .string(id)), ("object", "chat.completion.chunk"), ("created", .int(options.created)), ("model", .string(model)),
            ("choices", .array(choices)),
        ])
        chunk.set("usage", usage)
        return .object(chunk)
    }
}
