/// What one upstream answer says about the key that made it and the request it answered.
public struct UpstreamAnswer: Sendable, Equatable {
    public var status: Int
    public var blame: AnswerBlame
    /// Two answers with the same signature say the same thing: the status and the provider's error codes, never the
    /// message (it carries request ids).
    public var signature: String
    /// Why, for logs, metrics and the key's `last_error`: never the body (it may echo the request or the key).
    public var reason: String
    /// Judged by the status alone (no provider code, no override): weak evidence. A bare 401 may be the request's
    /// doing (an endpoint that wants other credentials), so `RequestBlame` blames a key for it only once another key
    /// answered differently.
    public var isStatusOnly: Bool
    /// The limit the answer speaks of is the provider's per-model one (OpenAI rate limits, Gemini `...PerModel...`
    /// quota ids, Anthropic's per-model-class limits): the key rests for the request's model only.
    public var isPerModel: Bool
    /// The provider's message as it wrote it, for the admin page once scrubbed of the key (`ProviderMessage.scrub`);
    /// never logged as it is. Nil when the body held none.
    public var providerMessage: String?

    public init(
        status: Int, blame: AnswerBlame, signature: String, reason: String, isStatusOnly: Bool = false, isPerModel: Bool = false,
        providerMessage: String? = nil
    ) {
        self.status = status
        self.blame = blame
        self.signature = signature
        self.reason = reason
        self.isStatusOnly = isStatusOnly
        self.isPerModel = isPerModel
        self.providerMessage = providerMessage
    }

    /// Whether the provider said how long the key should rest (else the cooldown is the configured default).
    public var hasResetHint: Bool {
        switch blame {
        case .rateLimited(_?), .keyExhausted(_?): true
        default: false
        }
    }
}

/// Whose fault an upstream answer is.
public enum AnswerBlame: Sendable, Equatable {
    /// 1xx-3xx: deliver.
    case success
    /// The key is revoked or invalid (OpenAI `invalid_api_key`, Anthropic `authentication_error`, Gemini
    /// `API_KEY_INVALID`): quarantine it; invalid after repeated answers.
    case keyInvalid
    /// The key's credit or quota is gone (OpenAI `insufficient_quota`, Anthropic `billing_error`, Gemini per-day
    /// quota): a long cooldown. `retryAfter` is the provider's own hint, if it gave one.
    case keyExhausted(retryAfter: Double?)
    /// The key is rate limited; `retryAfter` is the provider's reset hint (nil: none, or none that parsed).
    case rateLimited(retryAfter: Double?)
    /// The request itself cannot be served (invalid, too large, permission, organisation, model access). When
    /// `dependsOnKey`, another key might serve it (a key of a higher tier, with the model or the scope): rotate until
    /// two keys agree; otherwise no key can and the answer goes to the client at once.
    case request(dependsOnKey: Bool)
    /// The upstream failed (5xx, overloaded, timed out): retry on another key within the retry budget.
    case upstream
}
