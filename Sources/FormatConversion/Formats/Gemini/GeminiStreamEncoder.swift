/// Writes Gemini stream chunks: one per text delta, one per whole function call (arguments gathered until
/// the call ends, since Gemini sends them whole), and a last one with the finish reason and usage.
/// `alt=sse` framing (`data: ...\r\n\r\n`) or, without it, one JSON array written element by element.
struct GeminiStreamEncoder: ClientStreamEncoder {
    let options: ClientStreamOptions
    private var id = "gemini"
    private var model = ""
    private var pendingCall: ToolCall?
    private var finishReason: FinishReason = .stop
    private var usage: TokenUsage?
    private var wroteElement = false

    init(options: ClientStreamOptions) { self.options = options }

    mutating func encode(_ event: StreamEvent, into out: inout [UInt8]) {
        switch event {
        case .start(let id, let model):
            self.id = id
            self.model = model
        case .textDelta(let text):
            flushCall(into: &out)
            writeChunk(parts: [.object(JSONObject([("text", .string(text))]))], finish: nil, into: &out)
        case .toolCallStart(_, let id, let name):
            flushCall(into: &out)
            pendingCall = ToolCall(id: id, name: name, arguments: "")
        case .toolCallArgumentsDelta(_, let fragment):
            pendingCall?.arguments += fragment
        case .finish(let reason):
            flushCall(into: &out)
            finishReason = reason
        case .usage(let usage):
            self.usage = usage
        case .error(let error):
            flushCall(into: &out)
            writeElement(GeminiFormat.encodeError(error), into: &out)
            if !options.serverSentEvents { out.append(UInt8(ascii: "]")) }
        }
    }

    mutating func finish(into out: inout [UInt8]) {
        flushCall(into: &out)
        writeChunk(parts: [.object(JSONObject([("text", "")]))], finish: GeminiFormat.finishReason(finishReason), into: &out)
        if !options.serverSentEvents { out.append(UInt8(ascii: "]")) }
    }

    private mutating func flushCall(into out: inout [UInt8]) {
        guard let call = pendingCall else { return }
        pendingCall = nil
        var ignored = DroppedFeatures()
        writeChunk(parts: [GeminiFormat.functionCallPart(call, dropped: &ignored)], finish: nil, into: &out)
    }

    private mutating func writeChunk(parts: [JSONValue], finish: String?, into out: inout [UInt8]) {
        var candidate = JSONObject([("content", .object(JSONObject([("parts", .array(parts)), ("role", "model")])))])
        candidate.set("finishReason", finish.map(JSONValue.string))
        candidate["index"] = 0
        var chunk = JSONObject([("candidates", .array([.object(candidate)]))])
        if finish != nil { chunk.set("usageMetadata", usage.map(GeminiFormat.encodeUsage)) }
        chunk["modelVersion"] = .string(model)
        chunk["responseId"] = .string(id)
        writeElement(.object(chunk), into: &out)
    }

    private mutating func writeElement(_ value: JSONValue, into out: inout [UInt8]) {
        if options.serverSentEvents {
            out.append(contentsOf: "data: ".utf8)
            JSONWriter.write(value, into: &out)
            out.append(contentsOf: "\r\n\r\n".utf8)
        } else {
            out.append(UInt8(ascii: wroteElement ? "," : "["))
            if wroteElement { out.append(contentsOf: "\r\n".utf8) }
            JSONWriter.write(value, into: &out)
        }
        wroteElement = true
    }
}
