import Foundation

/// Which family of routes a config serves: `/llm/{slug}` (LLM wire formats) or `/proxy/{slug}` (any REST API).
public enum ConfigType: String, Sendable, Codable, CaseIterable {
    case llm
    case generic
}

/// The wire format an LLM config speaks; it decides where the real key goes and how errors look.
public enum APIFormat: String, Sendable, Codable, CaseIterable {
    case openAICompatible = "openai_compatible"
    case anthropicNative = "anthropic_native"
    case geminiNative = "gemini_native"
}

/// Where a generic config puts the real key in the upstream request.
public enum APIKeyLocation: String, Sendable, Codable, CaseIterable {
    case header
    case query
}

/// One proxy configuration: a slug, an upstream, and how keys are injected. Keys live beside it.
///
/// What an admin set is `fields` (a `ProxyConfigDraft`); `config.name`, `config.apiFormat`, ... read and write it.
@dynamicMemberLookup
public struct ProxyConfig: Sendable, Equatable, Identifiable {
    public var id: Int64
    /// Every field an admin supplies.
    public var fields: ProxyConfigDraft
    public var createdAt: Date
    public var updatedAt: Date
    /// Bumped on every change of the config or its keys; lets caches notice missed updates.
    public var version: Int64

    public init(id: Int64, fields: ProxyConfigDraft, createdAt: Date, updatedAt: Date, version: Int64) {
        self.id = id
        self.fields = fields
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    public init(
        id: Int64, name: String, slug: String, configType: ConfigType, apiKeyLocation: APIKeyLocation,
        apiKeyName: String, isActive: Bool, method: String?, targetURL: String?, targetBaseURL: String?,
        apiFormat: APIFormat, outputFormat: String?, keyRPM: Int, createdAt: Date, updatedAt: Date, version: Int64,
        answerOverrides: [AnswerOverride] = [], retryAfterReadTimeout: Bool = false, forwardBillingHeaders: Bool = false,
        modelMap: [String: String] = [:], defaultModel: String? = nil, defaultMaxTokens: Int? = nil
    ) {
        let fields = ProxyConfigDraft(
            name: name, slug: slug, configType: configType, apiKeyLocation: apiKeyLocation, apiKeyName: apiKeyName,
            isActive: isActive, method: method, targetURL: targetURL, targetBaseURL: targetBaseURL, apiFormat: apiFormat,
            outputFormat: outputFormat, keyRPM: keyRPM, answerOverrides: answerOverrides,
            retryAfterReadTimeout: retryAfterReadTimeout, forwardBillingHeaders: forwardBillingHeaders,
            modelMap: modelMap, defaultModel: defaultModel, defaultMaxTokens: defaultMaxTokens
        )
        self.init(id: id, fields: fields, createdAt: createdAt, updatedAt: updatedAt, version: version)
    }

    /// `config.name` for `config.fields.name`, and so on. Inlinable, so that the relay's reads compile to plain
    /// field reads.
    @inlinable
    public subscript<Value>(dynamicMember keyPath: WritableKeyPath<ProxyConfigDraft, Value>) -> Value {
        get { fields[keyPath: keyPath] }
        set { fields[keyPath: keyPath] = newValue }
    }

    /// The clients' format; a stored value no release knows reads as pass-through.
    public var clientFormat: OutputFormat { OutputFormat(stored: fields.outputFormat) ?? .none }

    /// The upstream base every request of this config goes to.
    public var upstreamBase: String? {
        switch fields.configType {
        case .llm: return nonEmpty(fields.targetBaseURL) ?? nonEmpty(fields.targetURL)
        case .generic: return nonEmpty(fields.targetURL) ?? nonEmpty(fields.targetBaseURL)
        }
    }

    /// Seconds between two uses of one key, from `fields.keyRPM` (0 when unpaced).
    public var keyPacingInterval: Double {
        fields.keyRPM > 0 ? 60.0 / Double(fields.keyRPM) : 0
    }
}

private func nonEmpty(_ value: String?) -> String? {
    guard let value, !value.isEmpty else { return nil }
    return value
}

/// The fields an admin supplies to create or replace a config (already validated).
public struct ProxyConfigDraft: Sendable, Equatable {
    public var name: String
    public var slug: String
    public var configType: ConfigType
    public var apiKeyLocation: APIKeyLocation
    public var apiKeyName: String
    public var isActive: Bool
    /// For generic configs, the one HTTP method allowed (`nil` or `ANY` allows every method).
    public var method: String?
    public var targetURL: String?
    public var targetBaseURL: String?
    public var apiFormat: APIFormat
    public var outputFormat: String?
    /// Requests per minute each key may take (0 = unlimited).
    public var keyRPM: Int
    /// How this config's upstream answers are judged where the provider's own codes say otherwise.
    public var answerOverrides: [AnswerOverride]
    /// Retry on another key after a read timeout even when a non-idempotent request was sent in full (it may
    /// have been processed and billed already).
    public var retryAfterReadTimeout: Bool
    /// Forward the client's billing-selection headers (`OpenAI-Organization`, `OpenAI-Project`,
    /// `x-goog-user-project`); dropped otherwise, so a client cannot bill another organisation of a key.
    public var forwardBillingHeaders: Bool
    /// Client model name -> upstream model name, used when the config converts formats (`output_format`).
    public var modelMap: [String: String]
    /// The upstream model for any client model the map does not name (nil: the client's name goes up).
    public var defaultModel: String?
    /// Output tokens a client key's request to this config reserves against the key's token limits when it names no
    /// maximum itself (nil: the node's `CLIENT_KEY_DEFAULT_MAX_TOKENS`).
    public var defaultMaxTokens: Int?

    public init(
        name: String, slug: String, configType: ConfigType, apiKeyLocation: APIKeyLocation, apiKeyName: String,
        isActive: Bool, method: String?, targetURL: String?, targetBaseURL: String?, apiFormat: APIFormat,
        outputFormat: String?, keyRPM: Int, answerOverrides: [AnswerOverride] = [], retryAfterReadTimeout: Bool = false,
        forwardBillingHeaders: Bool = false, modelMap: [String: String] = [:], defaultModel: String? = nil, defaultMaxTokens: Int? = nil
    ) {
        self.name = name
        self.slug = slug
        self.configType = configType
        self.apiKeyLocation = apiKeyLocation
        self.apiKeyName = apiKeyName
        self.isActive = isActive
        self.method = method
        self.targetURL = targetURL
        self.targetBaseURL = targetBaseURL
        self.apiFormat = apiFormat
        self.outputFormat = outputFormat
        self.keyRPM = keyRPM
        self.answerOverrides = answerOverrides
        self.retryAfterReadTimeout = retryAfterReadTimeout
        self.forwardBillingHeaders = forwardBillingHeaders
        self.modelMap = modelMap
        self.defaultModel = defaultModel
        self.defaultMaxTokens = defaultMaxTokens
    }
}
