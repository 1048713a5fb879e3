/// Something that took a key out of rotation, as the page explains it ("cooling until 10:42: the provider's
/// reset hint", "quarantined after 401: Incorrect API key provided").
public struct KeyEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A 429: cooling until `until`.
        case rateLimited = "rate_limited"
        /// A 401/403: quarantined until `until`.
        case quarantined
        /// Rejected too many times in a row: invalid until an admin re-enables the key.
        case invalidated
        /// The key's credit or quota is gone: resting until `until`.
        case quotaExhausted = "quota_exhausted"
    }

    /// Where a cooldown's length came from.
    public enum CooldownSource: String, Sendable {
        case providerHint = "provider_reset_hint"
        case defaultCooldown = "default_cooldown"
    }

    public var kind: Kind
    public var keyID: Int64
    /// Unix seconds.
    public var at: Double
    /// Unix seconds; nil for `invalidated`.
    public var until: Double?
    public var source: CooldownSource?
    /// The upstream's status code.
    public var status: Int
    /// The provider's own message, scrubbed of secrets (`ProviderMessage`); nil when it gave none.
    public var message: String?

    public init(kind: Kind, keyID: Int64, at: Double, until: Double?, source: CooldownSource? = nil, status: Int, message: String? = nil) {
        self.kind = kind
        self.keyID = keyID
        self.at = at
        self.until = until
        self.source = source
        self.status = status
        self.message = message
    }
}
