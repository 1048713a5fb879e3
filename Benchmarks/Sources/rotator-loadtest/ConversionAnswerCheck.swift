import Foundation

/// What scenario 9's pre-check accepts as an answer of each of its four runs: the Anthropic upstream's own shapes
/// through the pass-through config, OpenAI's through the converting one, every streamed chunk there. Anything else
/// (a relayed Anthropic answer where OpenAI's was asked for, the mock's 404 or 401 for a request in the wrong
/// dialect, a stream cut short) is a problem named with what came back, so the scenario never measures a fast wrong
/// answer.
enum ConversionAnswerCheck: Sendable, Equatable {
    /// An Anthropic Message (`"type":"message"`).
    case anthropicMessage
    /// Anthropic events from `message_start` to `message_stop`, `chunks` text deltas between.
    case anthropicStream(chunks: Int)
    /// An OpenAI `chat.completion`.
    case openAIChatCompletion
    /// OpenAI `chat.completion.chunk` events ending in `data: [DONE]`, the text of all `chunks` pieces in them.
    case openAIChunkStream(chunks: Int)

    /// The mock's answer text starts so (`served by key ...abcd`); streamed pieces add ` part 2`, ` part 3`...
    static let answerPrefix = "served by key"

    /// Nil when the answer is what this check wants, else what is wrong with it.
    func problem(status: Int, contentType: String?, body: String) -> String? {
        guard status == 200 else { return "answered \(status): \(body.prefix(300))" }
        switch self {
        case .anthropicMessage, .openAIChatCompletion:
            guard let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] else {
                return "not a JSON object: \(body.prefix(300))"
            }
            let text = self == .anthropicMessage ? Self.anthropicText(object) : Self.openAIText(object)
            guard let text, text.hasPrefix(Self.answerPrefix) else { return "not \(self.shapeName): \(body.prefix(300))" }
            return nil
        case .anthropicStream(let chunks), .openAIChunkStream(let chunks):
            guard contentType?.hasPrefix("text/event-stream") == true else {
                return "content type \(contentType ?? "none"), not an event stream: \(body.prefix(300))"
            }
            let events = Self.dataLines(body)
            let text: String?
            if self == .anthropicStream(chunks: chunks) {
                guard body.hasPrefix("event: message_start"), body.contains(#""type":"message_stop""#) else {
                    return "not an Anthropic event stream from message_start to message_stop: \(body.prefix(300))"
                }
                text = Self.joined(events) { ($0["delta"] as? [String: Any])?["text"] as? String }
            } else {
                guard body.hasSuffix("data: [DONE]\n\n"), !body.contains("event: message_start") else {
                    return "not an OpenAI chunk stream ending in data: [DONE]: \(body.suffix(300))"
                }
                let kinds = Set(events.dropLast().map { ($0.object?["object"] as? String) ?? "?" })
                guard kinds == ["chat.completion.chunk"] else { return "events other than chat.completion.chunk: \(kinds.sorted())" }
                text = Self.joined(events) { object in
                    ((object["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
                }
            }
            let last = chunks > 1 ? " part \(chunks)" : ""
            guard let text, text.hasPrefix(Self.answerPrefix), text.hasSuffix(last) else {
                return "the stream's text is not all \(chunks) pieces: '\(text ?? "")'"
            }
            return nil
        }
    }

    var shapeName: String {
        switch self {
        case .anthropicMessage: "an Anthropic message"
        case .anthropicStream: "an Anthropic event stream"
        case .openAIChatCompletion: "an OpenAI chat.completion"
        case .openAIChunkStream: "an OpenAI chat.completion.chunk stream"
        }
    }

    private static func anthropicText(_ object: [String: Any]) -> String? {
        guard object["type"] as? String == "message" else { return nil }
        return (object["content"] as? [[String: Any]])?.first?["text"] as? String
    }

    private static func openAIText(_ object: [String: Any]) -> String? {
        guard object["object"] as? String == "chat.completion" else { return nil }
        return ((object["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    /// Every `data:` payload of an event stream, parsed when it is JSON (`[DONE]` is not).
    private static func dataLines(_ body: String) -> [(raw: Substring, object: [String: Any]?)] {
        body.split(separator: "\n").filter { $0.hasPrefix("data:") }.map { line in
            let raw = line.dropFirst(5).drop { $0 == " " }
            return (raw, (try? JSONSerialization.jsonObject(with: Data(raw.utf8))) as? [String: Any])
        }
    }

    private static func joined(_ events: [(raw: Substring, object: [String: Any]?)], _ piece: ([String: Any]) -> String?) -> String? {
        let pieces = events.compactMap { $0.object.flatMap(piece) }
        return pieces.isEmpty ? nil : pieces.joined()
    }
}
