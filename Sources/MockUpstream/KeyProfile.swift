/// How the mock treats requests made with one key. The default value answers every request with 200.
///
/// Checks apply in this order: `revoked` (401), the account-wide storm (429), `modelLimits` for the request's model
/// (429 in the provider's per-model shape), `forceRateLimitRetryAfter` (429), `rateLimitPerSecond` (429 when the
/// bucket is empty), `failureStatus`/`failureRate` (e.g. 503), then success.
public struct KeyProfile: Sendable, Equatable {
    /// Answer 401, as a provider does for a deleted or disabled key.
    public var revoked: Bool
    /// Token bucket refilled at this many requests per second, holding at most `max(1, rate)` tokens and
    /// starting full. An empty bucket answers 429 with the whole seconds until the next token.
    public var rateLimitPerSecond: Double?
    /// Always answer 429 with this many seconds as the retry hint.
    public var forceRateLimitRetryAfter: Int?
    /// Status to answer with (500, 503, 529...) with probability `failureRate`.
    public var failureStatus: Int?
    /// Probability in 0...1 of answering `failureStatus`; drawn from a per-key generator seeded from the state's seed,
    /// so the same sequence of requests on a key fails the same way every run. Defaults to 1 (always fail) so that
    /// setting `failureStatus` alone is enough.
    public var failureRate: Double
    /// Added before every answer for this key.
    public var latencyMilliseconds: Int
    /// How 429 answers for this key express their retry hint.
    public var retryAfterStyle: RetryAfterStyle
    /// Content chunks of a streamed answer for this key (the server's `--chunks` when nil).
    public var streamChunks: Int?
    /// Pause between streamed chunks for this key (the server's `--chunk-delay-ms` when nil).
    public var chunkDelayMilliseconds: Int?
    /// Per-model limits this key has hit, by model name: requests for that model get the provider's per-model 429
    /// (set on the default profile, every key of the "account" has hit it).
    public var modelLimits: [String: ModelLimit]

    public init(
        revoked: Bool = false,
        rateLimitPerSecond: Double? = nil,
        forceRateLimitRetryAfter: Int? = nil,
        failureStatus: Int? = nil,
        failureRate: Double = 1,
        latencyMilliseconds: Int = 0,
        retryAfterStyle: RetryAfterStyle = .seconds,
        streamChunks: Int? = nil,
        chunkDelayMilliseconds: Int? = nil,
        modelLimits: [String: ModelLimit] = [:]
    ) {
        self.modelLimits = modelLimits
        self.revoked = revoked
        self.rateLimitPerSecond = rateLimitPerSecond
        self.forceRateLimitRetryAfter = forceRateLimitRetryAfter
        self.failureStatus = failureStatus
        self.failureRate = failureRate
        self.latencyMilliseconds = latencyMilliseconds
        self.retryAfterStyle = retryAfterStyle
        self.streamChunks = streamChunks.map { max(0, $0) }
        self.chunkDelayMilliseconds = chunkDelayMilliseconds.map { max(0, $0) }
    }
}

extension KeyProfile: Codable {
    enum CodingKeys: String, CodingKey {
        case revoked, rateLimitPerSecond, forceRateLimitRetryAfter, failureStatus, failureRate, latencyMilliseconds, retryAfterStyle, streamChunks,
            chunkDelayMilliseconds, modelLimits
    }

    /// Every field is optional in JSON, so a profile file or `PUT /__mock/profiles/{key}` names only what differs.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = KeyProfile()
        self.init(
            revoked: try container.decodeIfPresent(Bool.self, forKey: .revoked) ?? defaults.revoked,
            rateLimitPerSecond: try container.decodeIfPresent(Double.self, forKey: .rateLimitPerSecond),
            forceRateLimitRetryAfter: try container.decodeIfPresent(Int.self, forKey: .forceRateLimitRetryAfter),
            failureStatus: try container.decodeIfPresent(Int.self, forKey: .failureStatus),
            failureRate: try container.decodeIfPresent(Double.self, forKey: .failureRate) ?? defaults.failureRate,
            latencyMilliseconds: try container.decodeIfPresent(Int.self, forKey: .latencyMilliseconds) ?? defaults.latencyMilliseconds,
            retryAfterStyle: try container.decodeIfPresent(RetryAfterStyle.self, forKey: .retryAfterStyle) ?? defaults.retryAfterStyle,
            streamChunks: try container.decodeIfPresent(Int.self, forKey: .streamChunks),
            chunkDelayMilliseconds: try container.decodeIfPresent(Int.self, forKey: .chunkDelayMilliseconds),
            modelLimits: try container.decodeIfPresent([String: ModelLimit].self, forKey: .modelLimits) ?? [:]
        )
    }
}

/// A provider limit that is per model, as the providers answer it (see `MockUpstreamResponder.modelLimitAnswer`).
public struct ModelLimit: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// Requests per minute for this model: OpenAI `rate_limit_exceeded` (RPM), Anthropic `rate_limit_error`,
        /// Gemini `GenerateRequestsPerMinutePerProjectPerModel`.
        case perMinute
        /// The model's daily quota: OpenAI RPD, Gemini `GenerateRequestsPerDayPerProjectPerModel`.
        case perDay
        /// No quota at all for this model on the key's tier (Gemini's free tier `limit: 0`).
        case zero
        /// The request alone exceeds the key's per-minute tokens (OpenAI "Request too large ... TPM", Anthropic's
        /// input-tokens-per-minute 429 with a full token bucket).
        case requestTooLarge
    }

    public var kind: Kind
    /// The wait the answer names.
    public var retryAfterSeconds: Int

    public init(kind: Kind, retryAfterSeconds: Int = 20) {
        self.kind = kind
        self.retryAfterSeconds = max(0, retryAfterSeconds)
    }

    enum CodingKeys: String, CodingKey {
        case kind, retryAfterSeconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(kind: try container.decode(Kind.self, forKey: .kind),
                  retryAfterSeconds: try container.decodeIfPresent(Int.self, forKey: .retryAfterSeconds) ?? 20)
    }
}
