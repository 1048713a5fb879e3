import NIOHTTP1
import RotatorCore

/// Which provider a config's upstream speaks: the one place a format becomes its `UpstreamProvider`. `/proxy/`
/// routes speak `.generic` whatever the config's `api_format` says.
public enum UpstreamDialect: Sendable, Equatable, CaseIterable {
    /// OpenAI and every OpenAI-compatible upstream (OpenRouter, vLLM, ...).
    case openAI
    case anthropic
    case gemini
    /// Any REST API: only the status says what happened.
    case generic

    public init(format: APIFormat?) {
        switch format {
        case .openAICompatible: self = .openAI
        case .anthropicNative: self = .anthropic
        case .geminiNative: self = .gemini
        case nil: self = .generic
        }
    }

    public var provider: any UpstreamProvider.Type {
        switch self {
        case .openAI: OpenAICompatibleProvider.self
        case .anthropic: AnthropicProvider.self
        case .gemini: GeminiProvider.self
        case .generic: GenericRESTProvider.self
        }
    }

    /// The LLM dialect a request speaks, judged from the request alone (before any config is known): the first
    /// provider whose marks it carries (Gemini's before Anthropic's), else OpenAI's, which every SDK may speak.
    public static func spoken(headers: HTTPHeaders, path: Substring, query: String?) -> UpstreamDialect {
        // Called on the conformers directly (not through `provider`): no array, no existential metatype per request.
        if GeminiProvider.marksRequest(headers: headers, path: path, query: query) { return .gemini }
        if AnthropicProvider.marksRequest(headers: headers, path: path, query: query) { return .anthropic }
        return .openAI
    }

    /// The API format of an LLM dialect (nil for generic).
    public var format: APIFormat? {
        switch self {
        case .openAI: .openAICompatible
        case .anthropic: .anthropicNative
        case .gemini: .geminiNative
        case .generic: nil
        }
    }

    /// The header an LLM upstream takes its key in (nil for generic configs: their config says where).
    public var keyHeader: (name: String, bearer: Bool)? { provider.keyHeader }

    /// Query parameters a client of this format may carry its credential in (dropped before the upstream).
    public var credentialQueryNames: Set<String> { provider.credentialQueryNames }

    func judge(status: Int, error: ProviderError) -> (blame: AnswerBlame, reason: String)? {
        provider.judge(status: status, error: error)
    }

    func limitIsPerModel(_ blame: AnswerBlame, error: ProviderError?) -> Bool {
        provider.limitIsPerModel(blame, error: error)
    }

    func requestExceedsTokenLimit(headers: HTTPHeaders) -> Bool {
        provider.requestExceedsTokenLimit(headers: headers)
    }

    /// The status alone, for answers whose body says nothing known.
    static func judge(status: Int) -> (blame: AnswerBlame, reason: String) {
        switch status {
        case 100..<400: return (.success, "answered \(status)")
        case 401: return (.keyInvalid, "upstream answered 401")
        case 402: return (.keyExhausted(retryAfter: nil), "upstream answered 402 payment required")
        case 403: return (.request(dependsOnKey: true), "upstream answered 403")
        case 429: return (.rateLimited(retryAfter: nil), "upstream answered 429")
        case 408, 500, 502, 503, 504, 520...530: return (.upstream, "upstream answered \(status)")
        default: return (.request(dependsOnKey: false), "upstream answered \(status)")
        }
    }
}
