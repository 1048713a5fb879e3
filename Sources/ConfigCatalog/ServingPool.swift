import RotatorCore

/// Everything the proxy needs to serve one slug, held in memory: the config, its parsed upstream,
/// and its usable keys with their secrets. A class: every request holds it, and sharing it costs one reference count.
public final class ServingPool: Sendable {
    public let config: ProxyConfig
    public let target: UpstreamTarget?
    /// Secrets by key id.
    public let secrets: [Int64: String]
    /// Active keys whose ciphertext did not open: out of rotation, reported to admins, in the log and metrics.
    public let undecryptableKeyIDs: [Int64]

    public init(config: ProxyConfig, keys: [UsableKey], undecryptableKeyIDs: [Int64] = []) {
        self.config = config
        self.target = config.upstreamBase.flatMap(UpstreamTarget.init)
        var secrets: [Int64: String] = [:]
        secrets.reserveCapacity(keys.count)
        for key in keys { secrets[key.id] = key.secret }
        self.secrets = secrets
        self.undecryptableKeyIDs = undecryptableKeyIDs
    }

    /// Whether a request built for this pool may use `other`'s keys: same upstream, same format, key in the same
    /// place. A request that started before an admin pointed the config elsewhere must not send the new provider's
    /// keys to the old host.
    public func routesLike(_ other: ServingPool) -> Bool {
        config.configType == other.config.configType && config.upstreamBase == other.config.upstreamBase
            && config.apiFormat == other.config.apiFormat && config.apiKeyLocation == other.config.apiKeyLocation
            && config.apiKeyName == other.config.apiKeyName
    }
}
