import RequestIdentity

/// The proxy's knobs, from the environment (see `Settings` in RotatorApp).
public struct ProxySettings: Sendable {
    /// Keys clients present to use the proxy (`GLOBAL_PROXY_KEYS`).
    public var proxyKeys: [String]
    /// Extra attempts after connect errors, timeouts and 5xx (`MAX_RETRIES`).
    public var maxRetries: Int
    /// Cooldown after a 429 that carries no reset signal (`COOLDOWN_SECONDS`).
    public var defaultCooldown: Double
    /// One upstream attempt's connect and read timeout (`PROXY_TIMEOUT`).
    public var timeout: Double
    /// The most one request spends before its answer starts: every attempt, retry, rotation past busy keys and wait
    /// for a paced key (`PROXY_TOTAL_TIMEOUT`).
    public var totalTimeout: Double
    /// Largest request body accepted (`MAX_BODY_BYTES`).
    public var maxBodyBytes: Int
    /// How long a request may wait for a paced-out key before the proxy answers 429.
    public var pacingMaxWait: Double
    /// Browser origins allowed to call the proxy (`CORS_ALLOWED_ORIGINS`; `*` for any); empty: no CORS headers.
    public var corsAllowedOrigins: Set<String>
    /// Cooldown of a key whose quota or credit is gone (OpenAI `insufficient_quota`, Anthropic `billing_error`),
    /// unless the provider says longer: an hour, not a rate limit's minute.
    public var quotaCooldown: Double
    /// Most keys one client request may see rate limited (or out of quota) before it answers 429 with the soonest
    /// wait (`RATE_LIMIT_MAX_KEYS`): no single request can rest the whole pool.
    public var rateLimitMaxKeys: Int
    /// Wrong or missing proxy keys one client address may send per window before it gets 429 until the window ends
    /// (`WRONG_PROXY_KEY_LIMIT`; 0: never).
    public var wrongKeyLimit: Int
    public var wrongKeyWindowSeconds: Int = 60
    /// Tells a request's client address behind proxies (`TRUSTED_PROXIES`), for the wrong-key throttle.
    public var clientAddresses: ClientAddressResolver
    /// The output tokens a client key's request reserves when it sets no max tokens (`CLIENT_KEY_DEFAULT_MAX_TOKENS`).
    public var clientKeyDefaultMaxTokens: Int64

    /// - Parameter totalTimeout: nil: twice `timeout`.
    public init(proxyKeys: [String], maxRetries: Int = 3, defaultCooldown: Double = 60, timeout: Double = 30, totalTimeout: Double? = nil,
                maxBodyBytes: Int = 10 * 1024 * 1024, pacingMaxWait: Double = 2, corsAllowedOrigins: [String] = [],
                quotaCooldown: Double = 3600, rateLimitMaxKeys: Int = 3, wrongKeyLimit: Int = 0,
                clientAddresses: ClientAddressResolver = ClientAddressResolver(), clientKeyDefaultMaxTokens: Int64 = 4096) {
        self.clientKeyDefaultMaxTokens = clientKeyDefaultMaxTokens
        self.rateLimitMaxKeys = rateLimitMaxKeys
        self.wrongKeyLimit = wrongKeyLimit
        self.clientAddresses = clientAddresses
        self.corsAllowedOrigins = Set(corsAllowedOrigins)
        self.proxyKeys = proxyKeys
        self.maxRetries = maxRetries
        self.defaultCooldown = defaultCooldown
        self.timeout = timeout
        self.totalTimeout = totalTimeout ?? 2 * timeout
        self.maxBodyBytes = maxBodyBytes
        self.pacingMaxWait = pacingMaxWait
        self.quotaCooldown = quotaCooldown
    }
}
