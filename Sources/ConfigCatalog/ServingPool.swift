import RotatorCore

/// Everything the proxy needs to serve one slug, held in memory: the config, its parsed upstream,
/// and its usable keys with their secrets.
public struct ServingPool: Sendable {
    public let config: ProxyConfig
    public let target: UpstreamTarget?
    /// Secrets by key id.
    public let secrets: [Int64: String]

    public init(config: ProxyConfig, keys: [UsableKey]) {
        self.config = config
        self.target = config.upstreamBase.flatMap(UpstreamTarget.init)
        var secrets: [Int64: String] = [:]
        secrets.reserveCapacity(keys.count)
        for key in keys { secrets[key.id] = key.secret }
        self.secrets = secrets
    }
}
