/// The API format a config's clients speak (`output_format`). `none` passes bodies through untouched; any
/// other value makes the proxy convert between it and the upstream's `api_format`. Names are the seed's.
public enum OutputFormat: String, Sendable, Codable, CaseIterable {
    case none
    case openAI = "openai"
    case openAIResponses = "openai_responses"
    case anthropic
    case gemini

    /// The stored value: nil or empty means `none`; an unknown value is nil (validation refuses it on write).
    public init?(stored value: String?) {
        guard let value, !value.isEmpty else {
            self = .none
            return
        }
        self.init(rawValue: value.lowercased())
    }

    /// Whether requests are converted at all.
    public var converts: Bool { self != .none }
}
