/// What a successful answer needs to know, whatever the provider's shape.
struct Reply: Sendable {
    /// Last four characters of the key that served the request.
    var keySuffix: String
    var sequence: Int
    var chunks: Int
    var chunkDelay: Duration
    /// Set when the request offers tools and does not answer a call: the answer is this call instead of text.
    var toolCall: ProviderRequest.ToolToCall? = nil
    /// Set when the request asked for structured output: the answer is this JSON text.
    var json: String? = nil

    var toolCallID: String { "call_mock_\(sequence)" }

    /// The call's arguments in two pieces, for streams.
    var argumentPieces: [String] {
        guard let arguments = toolCall?.arguments else { return [] }
        let middle = arguments.index(arguments.startIndex, offsetBy: arguments.count / 2)
        return [String(arguments[..<middle]), String(arguments[middle...])]
    }

    /// The whole answer text: names the key so a test can tell which key the rotator picked (or the JSON asked for).
    var text: String { json ?? "served by key ...\(keySuffix)" }

    /// The streamed pieces; joined they read `text` followed by ` part 2`, ` part 3`... (JSON: split in `chunks`).
    var pieces: [String] {
        guard let json else { return (0..<chunks).map { $0 == 0 ? text : " part \($0 + 1)" } }
        let characters = Array(json)
        let size = max(1, (characters.count + max(chunks, 1) - 1) / max(chunks, 1))
        return stride(from: 0, to: characters.count, by: size).map { String(characters[$0..<min($0 + size, characters.count)]) }
    }

    /// Fixed, so answers are byte-for-byte repeatable.
    static let created = 1_700_000_000
}
