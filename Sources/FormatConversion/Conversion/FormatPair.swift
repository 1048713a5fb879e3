import RotatorCore

/// A config's two formats: the one its clients speak and the upstream's. Every pair converts through the
/// internal model; a new format adds one conformer to each side's table here, nothing else.
public struct FormatPair: Sendable, Equatable {
    public let client: OutputFormat
    public let upstream: APIFormat

    /// Nil for `none` (pass-through: nothing to convert).
    public init?(client: OutputFormat, upstream: APIFormat) {
        guard client.converts else { return nil }
        self.client = client
        self.upstream = upstream
    }

    var clientFormat: any ClientWireFormat.Type {
        switch client {
        case .openAI, .none: OpenAIChatFormat.self
        case .openAIResponses: OpenAIResponsesFormat.self
        case .anthropic: AnthropicFormat.self
        case .gemini: GeminiFormat.self
        }
    }

    var upstreamFormat: any UpstreamWireFormat.Type {
        switch upstream {
        case .openAICompatible: OpenAIChatFormat.self
        case .anthropicNative: AnthropicFormat.self
        case .geminiNative: GeminiFormat.self
        }
    }

    /// Both sides speak the same wire format (`openai` over `openai_compatible`, ...): with no model map, the
    /// caller may relay bytes untouched.
    public var isSameWireFormat: Bool {
        switch (client, upstream) {
        case (.openAI, .openAICompatible), (.anthropic, .anthropicNative), (.gemini, .geminiNative): true
        default: false
        }
    }

    /// An error of the rotator's own (no key free, bad proxy key...) in the client's shape.
    public func clientErrorBody(_ error: UpstreamError) -> [UInt8] {
        JSONWriter.bytes(clientFormat.encodeError(error))
    }

    /// `GET` path of the upstream's model list.
    public var upstreamModelsPath: String { upstreamFormat.modelsPath }
}
