/// Writes the Responses API's semantic events: `response.created`, `response.in_progress`, then per output
/// item `response.output_item.added` ... `.done` (text through `content_part`/`output_text` events, tool calls
/// through `function_call_arguments` events), and `response.completed` with the whole response.
/// The `.done` events repeat the item's full text, so the encoder keeps the answer so far (as the API does).
struct OpenAIResponsesStreamEncoder: ClientStreamEncoder {
    private enum OpenItem {
        case message(itemID: String, text: String)
        case call(itemID: String, call: ToolCall, toolIndex: Int)
    }

    let options: ClientStreamOptions
    private var sequence = 0
    private var id = "resp"
    private var model = ""
    private var started = false
    private var output: [JSONValue] = []
    private var open: OpenItem?
    private var finishReason: FinishReason?
    private var usage: TokenUsage?

    init(options: ClientStreamOptions) { self.options = options }

    mutating func encode(_ event: StreamEvent, into out: inout [UInt8]) {
        switch event {
        case .start(let id, let model):
            start(id: id, model: model, into: &out)
        case .textDelta(let text):
            if case .message(let itemID, let soFar)? = open {
                open = .message(itemID: itemID, text: soFar + text)
                writeTextDelta(itemID: itemID, text, into: &out)
                return
            }
            closeItem(into: &out)
            let itemID = "msg_\(id)_\(output.count)"
            open = .message(itemID: itemID, text: text)
            write("response.output_item.added", [
                ("output_index", .int(output.count)),
                ("item", OpenAIResponsesFormat.messageItem(id: itemID, text: "", status: "in_progress")),
            ], into: &out)
            write("response.content_part.added", [
                ("item_id", .string(itemID)), ("output_index", .int(output.count)), ("content_index", 0),
                ("part", OpenAIResponsesFormat.outputText("")),
            ], into: &out)
            writeTextDelta(itemID: itemID, text, into: &out)
        case .toolCallStart(let index, let callID, let name):
            closeItem(into: &out)
            let itemID = "fc_\(id)_\(output.count)"
            let call = ToolCall(id: callID, name: name, arguments: "")
            open = .call(itemID: itemID, call: call, toolIndex: index)
            write("response.output_item.added", [
                ("output_index", .int(output.count)),
                ("item", OpenAIResponsesFormat.functionCallItem(call, itemID: itemID, status: "in_progress")),
            ], into: &out)
        case .toolCallArgumentsDelta(let index, let fragment):
            guard case .call(let itemID, var call, let toolIndex)? = open, toolIndex == index else { return }
            call.arguments += fragment
            open = .call(itemID: itemID, call: call, toolIndex: toolIndex)
            write("response.function_call_arguments.delta", [
                ("item_id", .string(itemID)), ("output_index", .int(output.count)), ("delta", .string(fragment)),
            ], into: &out)
        case .finish(let reason):
            closeItem(into: &out)
            finishReason = reason
        case .usage(let usage):
            self.usage = usage
        case .error(let error):
            let shape = OpenAIResponsesFormat.encodeError(error)["error"]
            write("error", [
                ("code", shape?["code"] ?? .null), ("message", .string(error.message)), ("param", .null),
            ], into: &out)
        }
    }

    mutating func finish(into out: inout [UInt8]) {
        if !started { start(id: "resp", model: "", into: &out) }
        closeItem(into: &out)
        let response = OpenAIResponsesFormat.responseObject(
            id: id, model: model, created: options.created, output: output, finishReason: finishReason, usage: usage)
        let type = response["status"]?.string == "incomplete" ? "response.incomplete" : "response.completed"
        write(type, [("response", response)], into: &out)
    }

    private mutating func start(id: String, model: String, into out: inout [UInt8]) {
        started = true
        self.id = OpenAIResponsesFormat.responseID(id)
        self.model = model
        let response = OpenAIResponsesFormat.responseObject(
            id: self.id, model: model, created: options.created, output: [], finishReason: nil, usage: nil, inProgress: true)
        write("response.created", [("response", response)], into: &out)
        write("response.in_progress", [("response", response)], into: &out)
    }

    private mutating func writeTextDelta(itemID: String, _ text: String, into out: inout [UInt8]) {
        write("response.output_text.delta", [
            ("item_id", .string(itemID)), ("output_index", .int(output.count)), ("content_index", 0), ("delta", .string(text)),
            ("logprobs", .array([])),
        ], into: &out)
    }

    private mutating func closeItem(into out: inout [UInt8]) {
        guard let item = open else { return }
        open = nil
        let index = JSONValue.int(output.count)
        switch item {
        case .message(let itemID, let text):
            write("response.output_text.done", [
                ("item_id", .string(itemID)), ("output_index", index), ("content_index", 0), ("text", .string(text)), ("logprobs", .array([])),
            ], into: &out)
            write("response.content_part.done", [
                ("item_id", .string(itemID)), ("output_index", index), ("content_index", 0), ("part", OpenAIResponsesFormat.outputText(text)),
            ], into: &out)
            let done = OpenAIResponsesFormat.messageItem(id: itemID, text: text, status: "completed")
            write("response.output_item.done", [("output_index", index), ("item", done)], into: &out)
            output.append(done)
        case .call(let itemID, let call, _):
            write("response.function_call_arguments.done", [
                ("item_id", .string(itemID)), ("output_index", index), ("arguments", .string(call.arguments)),
            ], into: &out)
            let done = OpenAIResponsesFormat.functionCallItem(call, itemID: itemID, status: "completed")
            write("response.output_item.done", [("output_index", index), ("item", done)], into: &out)
            output.append(done)
        }
    }

    private mutating func write(_ type: String, _ members: [(String, JSONValue)], into out: inout [UInt8]) {
        let payload = JSONObject([("type", .string(type)), ("sequence_number", .int(sequence))] + members)
        sequence += 1
        SSEEvent.write(name: type, json: .object(payload), into: &out)
    }
}
