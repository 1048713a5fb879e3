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
public struct ProxyConfig: Sendable, Equatable, Identifiable {
    public var id: Int64
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
    public var createdAt: Date
    public var updatedAt: Date
    /// Bumped on every change of the config or its keys; lets caches notice missed updates.
    public var version: Int64
    /// How this config's upstream answers are judged where the provider's own codes say otherwise.
    public var answerOverrides: [AnswerOverride]
    /// Retry on another key after a read timeout even when a non-idempotent request was sent in full (it may
    /// have been processed and billed already).
    public var retryAfterReadTimeout: Bool
    /// Forward the client's billing-selection headers (`OpenAI-Organization`, `OpenAI-Project`,
    /// `x-goog-user-project`); dropped otherwise, so a client cannot bill another organisation of a key.
    public var forwardBillingHeaders: Bool

    public init(
        id: Int64, name: String, slug: String, configType: ConfigType, apiKeyLocation: APIKeyLocation,
        apiKeyName: String, isActive: Bool, method: String?, targetURL: String?, targetBaseURL: String?,
        apiFormat: APIFormat, outputFormat: String?, keyRPM: Int, createdAt: Date, updatedAt: Date, version: Int64,
        answerOverrides: [AnswerOverride] = [], retryAfterReadTimeout: Bool = false, forwardBillingHeaders: Bool = false
    ) {
        self.id = id
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
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
        self.answerOverrides = answerOverrides
        self.retryAfterReadTimeout = retryAfterReadTimeout
        self.forwardBillingHeaders = forwardBillingHeaders
    }

    /// The upstream base every request of this config goes to.
    public var upstreamBase: String? {
        switch configType {
        case .llm: return nonEmpty(targetBaseURL) ?? nonEmpty(targetURL)
        case .generic: return nonEmpty(targetURL) ?? nonEmpty(targetBaseURL)
        }
    }

    /// Seconds between two uses of one key, from `keyRPM` (0 when unpaced).
    public var keyPacingInterval: Double {
        keyRPM > 0 ? 60.0 / Double(keyRPM) : 0
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
    public var method: String?
    public var targetURL: String?
    public var targetBaseURL: String?
    public var apiFormat: APIFormat
    public var outputFormat: String?
    public var keyRPM: Int
    public var answerOverrides: [AnswerOverride]
    public var retryAfterReadTimeout: Bool
    public var forwardBillingHeaders: Bool

    public init(
        name: String, slug: String, configType: ConfigType, apiKeyLocation: APIKeyLocation, apiKeyName: String,
        isActive: Bool, method: String?, targetURL: String?, targetBaseURL: String?, apiFormat: APIFormat,
        outputFormat: String?, keyRPM: Int, answerOverrides: [AnswerOverride] = [], retryAfterReadTimeout: Bool = false,
        forwardBillingHeaders: Bool = false
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
    }
}
