/// What a successful answer needs to know, whatever the provider's shape.
struct Reply: Sendable {
    /// Last four characters of the key that served the request.
    var keySuffix: String
    var sequence: Int
    var chunks: Int
    var chunkDelay: Duration
    /// Set when the request offers tools and does not answer a call: the answer is this call instead of text.
    var toolCall: ProviderRequest.ToolToCall? = nil

    var toolCallID: String { "call_mock_\(sequence)" }

    /// The call's arguments in two pieces, for streams.
    var argumentPieces: [String] {
        guard let arguments = toolCall?.arguments else { return [] }
        let middle = arguments.index(arguments.startIndex, offsetBy: arguments.count / 2)
        return [String(arguments[..<middle]), String(arguments[middle...])]
    }

    /// The whole answer text: names the key so a test can tell which key the rotator picked.
    var text: String { "served by key ...\(keySuffix)" }

    /// The streamed pieces; joined they read `text` followed by ` part 2`, ` part 3`...
    var pieces: [String] {
        (0..<chunks).map { $0 == 0 ? text : " part \($0 + 1)" }
    }

    /// Fixed, so answers are byte-for-byte repeatable.
    static let created = 1_700_000_000
}
