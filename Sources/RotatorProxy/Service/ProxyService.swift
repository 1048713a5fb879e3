import ClientAccess
import ConfigCatalog
import KeyCoordination
import Logging
import NIOCore
import RotatorCore

/// Everything the proxy path shares across connections: the serving pools (the node's catalog), the coordinator,
/// settings, metrics, the access log and the per-loop upstream pools. A class: every exchange holds it, by one reference.
public final class ProxyService: Sendable {
    /// The node's `ConfigCatalog`, seen through what the relay reads of it.
    public let catalog: any ServingPools
    public let coordinator: any KeyCoordinator
    public let settings: ProxySettings
    public let metrics: ProxyMetrics
    public let accessLog: AccessLogWriter
    public let pools: UpstreamPools
    /// One account-wide rate-limit detector per pool on this node.
    public let poolWatch: PoolRateLimitWatch
    /// Wrong proxy keys per client address (`WRONG_PROXY_KEY_LIMIT`), node-wide.
    public let wrongKeys: WrongKeyThrottle
    public let logger: Logger
    /// Dates (reset hints, the pool's rest) read off the event loop's clock.
    public let wallClock: WallClock
    /// The store's client keys by the keyed hash of their secrets (replaced by the catalog when they change).
    public let clientKeys: ClientKeyRegistry
    /// Where client keys' limits are enforced (nil: not wired yet; no client key is then admitted beyond its lists).
    public let clientQuota: (any ClientQuota)?
    /// Every finished request's row of the usage ledger, until the node's usage flush takes them.
    public let usageLedger: UsageLedger

    public init(
        catalog: any ServingPools, coordinator: any KeyCoordinator, settings: ProxySettings, metrics: ProxyMetrics, accessLog: AccessLogWriter,
        pools: UpstreamPools, poolWatch: PoolRateLimitWatch = PoolRateLimitWatch(), logger: Logger,
        wallClock: WallClock = .system(), clientKeys: ClientKeyRegistry = ClientKeyRegistry(hasher: ClientKeyHasher(encryptionKey: "")),
        clientQuota: (any ClientQuota)? = nil, usageLedger: UsageLedger = UsageLedger()
    ) {
        self.usageLedger = usageLedger
        self.clientKeys = clientKeys
        self.clientQuota = clientQuota
        self.wallClock = wallClock
        self.poolWatch = poolWatch
        self.wrongKeys = WrongKeyThrottle(limit: settings.wrongKeyLimit, windowSeconds: settings.wrongKeyWindowSeconds)
        self.catalog = catalog
        self.coordinator = coordinator
        self.settings = settings
        self.metrics = metrics
        self.accessLog = accessLog
        self.pools = pools
        self.logger = logger
    }

    var limits: ProxyStateMachine.Limits {
        ProxyStateMachine.Limits(
            timeout: .milliseconds(Int64(settings.timeout * 1000)), total: .milliseconds(Int64(settings.totalTimeout * 1000)),
            pacingMaxWait: settings.pacingMaxWait
        )
    }
}
