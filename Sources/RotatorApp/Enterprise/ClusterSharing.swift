import ConfigCatalog
import Foundation
import KeyCoordination
import Logging
import Metrics
import NIOCore
import RedisClient
import RedisCoordination
import RotatorAdmin
import ServiceLifecycle

/// What a node shares with the others through Redis: key state (Lua coordinator), change messages
/// (publisher + listener) and presence (heartbeat).
final class ClusterSharing: Sendable {
    let client: RedisClient
    let subscriber: RedisSubscriber
    /// With Sentinel: the master's address, shared by every connection above.
    let masterLocator: RedisMasterLocator?
    let coordinator: RedisKeyCoordinator
    /// Client keys' limits, on the coordinator's per-loop connections (an admit rides the acquire's write).
    let quota: RedisClientQuota
    let publisher: RedisChangePublisher
    let nodeID: String
    let logger: Logger
    let metricsFactory: any MetricsFactory

    private init(
        client: RedisClient, subscriber: RedisSubscriber, masterLocator: RedisMasterLocator?, coordinator: RedisKeyCoordinator,
        proxyLoops: [any EventLoop], nodeID: String, logger: Logger, metricsFactory: any MetricsFactory
    ) {
        // A request's settle waits on its loop for the key's next admit there, and rides it.
        self.quota = RedisClientQuota(
            client: client, connectionOn: { [coordinator] in coordinator.connection(on: $0) }, eventLoops: proxyLoops, logger: logger,
            metricsFactory: metricsFactory
        )
        self.metricsFactory = metricsFactory
        self.client = client
        self.subscriber = subscriber
        self.masterLocator = masterLocator
        self.coordinator = coordinator
        self.publisher = RedisChangePublisher(client: client, logger: logger)
        self.nodeID = nodeID
        self.logger = logger
    }

    /// Nil unless `CACHE_TYPE=redis` (or `REDIS_URL`).
    /// - Parameter proxyLoops: the loops the proxy serves on; each gets its own Redis connection for key selection.
    static func make(
        settings: Settings, policy: CoordinationPolicy, logger: Logger, metricsFactory: any MetricsFactory, proxyLoops: any EventLoopGroup
    ) -> ClusterSharing? {
        guard settings.cacheType == .redis, let redis = settings.redis else { return nil }
        let configuration = redisConfiguration(redis)
        let locator = redis.sentinel.map {
            RedisMasterLocator(
                configuration: RedisSentinelConfiguration(sentinels: $0.sentinels, masterName: $0.masterName, password: $0.password),
                connectTimeout: configuration.connectTimeout, commandTimeout: configuration.commandTimeout, logger: logger
            )
        }
        let client = RedisClient(configuration: configuration, masterLocator: locator, logger: logger)
        let subscriber = RedisSubscriber(configuration: configuration, masterLocator: locator, logger: logger)
        let loops = Array(proxyLoops.makeIterator())
        let loopClients = loops.map {
            RedisClient(configuration: configuration, eventLoopGroup: $0, masterLocator: locator, logger: logger)
        }
        let coordinator = RedisKeyCoordinator(
            client: client, loopClients: loopClients, policy: policy, logger: logger, metricsFactory: metricsFactory
        )
        let nodeID = "\(ProcessInfo.processInfo.hostName)-\(settings.port)-\(UUID().uuidString.prefix(8).lowercased())"
        return ClusterSharing(
            client: client, subscriber: subscriber, masterLocator: locator, coordinator: coordinator, proxyLoops: loops, nodeID: nodeID,
            logger: logger, metricsFactory: metricsFactory
        )
    }

    static func redisConfiguration(_ redis: Settings.RedisSettings) -> RedisConfiguration {
        RedisConfiguration(
            host: redis.host, port: redis.port, password: redis.password, username: redis.username, database: redis.database,
            tls: redis.tls
        )
    }

    /// With TLS, one connection before the node starts: a certificate that does not verify (wrong CA, wrong host
    /// name), unreadable files or a server that does not speak TLS refuse the start with the setting to fix. A Redis
    /// that is merely unreachable does not: the node starts degraded and reconnects, as without TLS.
    static func checkTLS(settings: Settings, logger: Logger) async throws {
        guard settings.cacheType == .redis, let redis = settings.redis, redis.tls != nil else { return }
        do {
            try await RedisConnection.probe(redisConfiguration(redis), logger: logger)
        } catch let error as RedisTLSError {
            let hint = switch error {
            case .badFile: "check REDIS_CA_FILE, REDIS_CERT_FILE and REDIS_KEY_FILE"
            case .untrustedCertificate: "REDIS_CA_FILE must hold the CA that signed the server's certificate"
            case .hostNameMismatch: "the host in REDIS_URL (or REDIS_HOST) must be a name the certificate lists"
            case .handshakeFailed: "is TLS enabled on that port (REDIS_URL=rediss://, REDIS_TLS), and does the server want a client certificate (REDIS_CERT_FILE, REDIS_KEY_FILE)?"
            }
            throw SettingsError("cannot open a TLS connection to Redis at \(redis.host):\(redis.port): \(error); \(hint)")
        } catch {
            logger.warning("Redis is not reachable at start-up; starting degraded", metadata: ["error": "\(error)"])
        }
    }

    func services(catalog: ConfigCatalog, settings: Settings) -> [any Service] {
        let info = NodeHeartbeat.NodeInfo(
            id: nodeID, address: "\(settings.host):\(settings.port)", version: RotatorVersion.current, mode: "enterprise",
            started_at: Date().timeIntervalSince1970, last_seen: 0, degraded_reasons: [:]
        )
        return [
            InvalidationListener(subscriber: subscriber, catalog: catalog, logger: logger, metricsFactory: metricsFactory),
            NodeHeartbeat(client: client, coordinator: coordinator, node: info, interval: .seconds(2), logger: logger, degradation: { [self] in
                var details = self.degradation()
                if !catalog.storeReachable { details["store"] = "unreachable: serving from cache, admin writes answer 503" }
                return details
            }, liveNodesSeen: { [quota] in
                quota.setLiveNodeCount($0)
                // Redis answered the beat: a quota left degraded by an outage checks it is back without waiting for a request.
                await quota.checkRecovered()
            }),
        ]
    }

    /// `/healthz` details while something shared is unreachable.
    func degradation() -> [String: String] {
        var details: [String: String] = [:]
        if coordinator.isDegraded { details["redis"] = "unreachable: selecting keys locally" }
        if quota.isDegraded {
            details["client_quota"] = "redis unreachable: enforcing client key limits locally at limit ÷ \(quota.liveNodeCount) live nodes"
        }
        if !subscriber.isConnected { details["invalidation"] = "not subscribed: relying on periodic version checks" }
        return details
    }

    func clusterNodes() async -> [ClusterNode] {
        guard let nodes = try? await NodeHeartbeat.liveNodes(client: client, staleAfter: 7) else { return [] }
        return nodes.map {
            ClusterNode(
                id: $0.id, address: $0.address, mode: $0.mode, lastSeen: Date(timeIntervalSince1970: $0.last_seen), version: $0.version,
                startedAt: Date(timeIntervalSince1970: $0.started_at), degradedReasons: $0.degraded_reasons ?? [:], isThisNode: $0.id == nodeID
            )
        }
    }

    /// The subscriber is closed by its listener when that service stops; this sends the settles still queued on the
    /// proxy's loops (the server has drained), then closes the command client.
    func shutdown() async {
        await quota.flushGiveBacks()
        await coordinator.shutdownLoopClients()
        await client.shutdown()
        await masterLocator?.shutdown()
    }
}

enum RotatorVersion {
    static let current = "0.2.0"
}
