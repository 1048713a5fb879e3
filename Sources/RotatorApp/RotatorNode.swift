import AdminWebUI
import AsyncHTTPClient
import ClientAccess
import ConfigCatalog
import Foundation
import Hummingbird
import HummingbirdCore
import KeyCoordination
import Logging
import MariaDBDriver
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import RedisCoordination
import RequestIdentity
import RotatorAdmin
import RotatorCore
import RotatorHTTP
import RotatorProxy
import RotatorSQL
import RotatorStore
import SQLiteDriver
import TrafficStats

/// One rotator node: store, coordinator, catalog, proxy and admin API wired into a Hummingbird application.
public struct RotatorNode: Sendable {
    public let settings: Settings
    public let secrets: NodeSecrets
    public let store: any ConfigStore
    public let coordinator: any KeyCoordinator
    public let catalog: ConfigCatalog
    /// Client keys' limits: in memory on a lightweight node, in Redis (shared by the fleet) on an enterprise one.
    public let clientQuota: any ClientQuota
    public let usageFlusher: UsageFlusher
    let database: any SQLDatabase
    /// The proxy path's shared parts (catalog, coordinator, upstream pools per event loop, access log).
    let proxy: ProxyService
    /// The event loops that serve client connections and the proxy's upstream connections.
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    /// Redis-backed sharing between nodes; nil in lightweight mode.
    let sharing: ClusterSharing?
    /// Everything `/metrics` shows; each node has its own.
    let metricsRegistry: PrometheusCollectorRegistry
    /// Admin login attempts: in Redis when nodes share it, so every node applies the same limit.
    let loginLimiter: any LoginAttemptLimiter
    /// Admin tokens ended by `POST /admin/logout`: in Redis when nodes share it, so every node refuses them.
    let tokenRevocations: any TokenRevocationList
    /// The last hour of traffic per config and key (admin charts); pushed to Redis in enterprise mode.
    let traffic: TrafficStats
    /// "Check now" probes from the admin API (the proxy path has its own upstream pools).
    let probeClient: HTTPClient

    var mode: String { settings.isEnterprise ? "enterprise" : "lightweight" }
    /// When this process made its node (shown by `/admin/cluster`).
    let startedAt = Date()

    /// Opens the store and builds the node's parts; nothing listens yet.
    /// - Parameter coordinationPolicy: quarantine timings; tests shorten them, production keeps the standard.
    public static func make(settings: Settings, logger: Logger, coordinationPolicy: CoordinationPolicy = .standard) async throws -> RotatorNode {
        if settings.databaseType == .sqlite, let refusal = FreshStoreCheck.reading(settings: settings).refusal(databasePath: settings.databasePath) {
            throw SettingsError(refusal)
        }
        let secrets = try NodeSecrets.resolve(settings)
        let cipher: KeyCipher
        do {
            cipher = try KeyCipher(base64: secrets.encryptionKey)
        } catch {
            throw SettingsError("ENCRYPTION_KEY must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)")
        }
        try await ClusterSharing.checkTLS(settings: settings, logger: logger)
        let database = try await openDatabase(settings: settings, logger: logger)
        let store = SQLConfigStore(database: database, cipher: cipher)
        let metricsRegistry = PrometheusCollectorRegistry()
        let traffic = TrafficStats(clock: { Date().timeIntervalSince1970 })
        let eventLoopGroup: any EventLoopGroup = settings.eventLoops.map { MultiThreadedEventLoopGroup(numberOfThreads: $0) }
            ?? MultiThreadedEventLoopGroup.singleton
        let sharing = ClusterSharing.make(
            settings: settings, policy: coordinationPolicy, logger: logger, metricsFactory: PrometheusMetricsFactory(registry: metricsRegistry),
            proxyLoops: eventLoopGroup
        )
        let coordinator: any KeyCoordinator = sharing?.coordinator ?? InMemoryKeyCoordinator(policy: coordinationPolicy)
        let clientQuota: any ClientQuota = sharing?.quota ?? InMemoryClientQuota()
        // Client keys' secrets are looked up by their keyed hash, under a key derived from ENCRYPTION_KEY (the same on
        // every node, so every node finds every key); the catalog fills the registry, the relay reads it.
        let clientKeys = ClientKeyRegistry(hasher: ClientKeyHasher(encryptionKey: secrets.encryptionKey))
        let catalog = ConfigCatalog(
            store: store, coordinator: coordinator, publisher: sharing?.publisher ?? LocalOnlyChangePublisher(), clientKeys: clientKeys, logger: logger,
            metricsFactory: PrometheusMetricsFactory(registry: metricsRegistry)
        )
        let tls: UpstreamTLS
        do {
            tls = try UpstreamTLS(additionalCAFile: settings.upstreamCAFile)
        } catch {
            throw SettingsError("cannot load the CA certificates in UPSTREAM_CA_FILE=\(settings.upstreamCAFile ?? ""): \(error)")
        }
        let proxy = ProxyService(
            catalog: catalog, coordinator: coordinator,
            settings: ProxySettings(
                proxyKeys: secrets.proxyKeys, maxRetries: settings.maxRetries, defaultCooldown: settings.cooldownSeconds,
                timeout: settings.proxyTimeout, totalTimeout: settings.proxyTotalTimeout, maxBodyBytes: settings.maxBodyBytes,
                corsAllowedOrigins: settings.corsAllowedOrigins, quotaCooldown: settings.quotaCooldownSeconds, rateLimitMaxKeys: settings.rateLimitMaxKeys,
                wrongKeyLimit: settings.wrongProxyKeyLimit, clientAddresses: ClientAddressResolver(trustedProxies: settings.trustedProxies),
                clientKeyDefaultMaxTokens: Int64(settings.clientKeyDefaultMaxTokens)
            ),
            metrics: ProxyMetrics(factory: PrometheusMetricsFactory(registry: metricsRegistry), traffic: traffic),
            accessLog: AccessLogWriter(logger: logger),
            pools: UpstreamPools(group: eventLoopGroup, tls: tls, connectTimeout: .milliseconds(Int64(min(settings.proxyTimeout, 10) * 1000))),
            logger: logger, clientKeys: clientKeys, clientQuota: clientQuota, usageLedger: UsageLedger()
        )
        return RotatorNode(
            settings: settings, secrets: secrets, store: store, coordinator: coordinator, catalog: catalog, clientQuota: clientQuota,
            usageFlusher: UsageFlusher(
                coordinator: coordinator, store: store, interval: .milliseconds(Int64(settings.usageFlushSeconds * 1000)), ledger: proxy.usageLedger,
                afterFlush: { [metrics = proxy.metrics] in metrics.rebalanceClientKeyLabels() },
                redisCounters: sharing.map { RedisUsageCounters(client: $0.client, nodeID: $0.nodeID) }, logger: logger
            ),
            database: database, proxy: proxy, eventLoopGroup: eventLoopGroup, logger: logger, sharing: sharing,
            metricsRegistry: metricsRegistry,
            loginLimiter: sharing.map { RedisLoginAttemptLimiter(client: $0.client, logger: logger) } ?? InMemoryLoginAttemptLimiter(),
            tokenRevocations: sharing.map { RedisTokenRevocationList(client: $0.client, logger: logger) } ?? InMemoryTokenRevocationList(),
            traffic: traffic,
            // Key checks trust what the relay trusts (UPSTREAM_CA_FILE too).
            probeClient: HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
                tlsConfiguration: UpstreamTLS.clientConfiguration(additionalCAFile: settings.upstreamCAFile),
                redirectConfiguration: .disallow, decompression: .disabled
            ))
        )
    }

    /// The HTTP application. Migrations and the first catalog load run before the port opens.
    public func application(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) async -> some ApplicationProtocol {
        let router = Router(context: RotatorRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: AccessLogMiddleware(logger: logger))
        if !settings.corsAllowedOrigins.isEmpty {
            router.add(middleware: CORSAllowListMiddleware(allowedOrigins: settings.corsAllowedOrigins))
        }
        router.add(middleware: ErrorMiddleware())
        await makeAdminAPI().register(on: router)
        AdminWebUI.register(on: router)
        let registry = metricsRegistry
        let metricsAccess = MetricsAccess(token: settings.metricsToken)
        router.get("/metrics") { request, _ -> Response in
            guard metricsAccess.allows(authorization: request.headers[.authorization]) else {
                throw APIError(.unauthorized, "send 'Authorization: Bearer <METRICS_TOKEN>' to read the metrics", headers: [.wwwAuthenticate: "Bearer"])
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: registry.emitToString()))
            )
        }
        HealthRoutes(catalog: catalog, mode: mode, readinessNeedsStore: !settings.isEnterprise, degradation: { [sharing] in sharing?.degradation() ?? [:] }).register(on: router)

        // Proxy routes never reach the router: a channel handler in front of Hummingbird's serves them on the
        // connection's event loop (see ProxyChildChannel).
        let proxy = self.proxy
        let limits = ClientLimits(
            timeouts: ClientTimeouts(
                idle: .milliseconds(Int64(settings.clientIdleTimeout * 1000)), read: .milliseconds(Int64(settings.clientReadTimeout * 1000)),
                request: .milliseconds(Int64(settings.clientRequestTimeout * 1000))
            ),
            maxConnections: settings.maxConnections
        )
        var app = Application(
            router: router,
            server: HTTPServerBuilder { responder in ProxyChildChannel(responder: responder, service: proxy, limits: limits) },
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "api-key-rotator"),
            onServerRunning: onServerRunning,
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: logger
        )
        let store = self.store
        let catalog = self.catalog
        let database = self.database
        let flusher = self.usageFlusher
        let probeClient = self.probeClient
        let sharing = self.sharing
        app.beforeServerStarts {
            try await store.migrate()
            try await catalog.reloadAll()
            await sharing?.coordinator.connectLoopClients()
        }
        // The service group stops services in reverse order, each after the one before has returned: the
        // server (draining requests) first, then the services below from last to first, and the teardown last.
        app.addServices(NodeTeardown(logger: logger, steps: [
            // Nothing may start a store read or write after this: queued loads and invalid marks finish first.
            .init("config catalog") { await catalog.close() },
            // The last seconds' usage, drained from the coordinator (Redis in enterprise mode) into the store.
            .init("final usage flush") { await flusher.flushAtShutdown() },
            // Idle upstream connections, and the access-log writer once the server has drained.
            .init("upstream connections") { proxy.pools.shutdown() },
            .init("key check client") { try await probeClient.shutdown() },
            .init("access log") { proxy.accessLog.shutdown() },
            .init("Redis") { await sharing?.shutdown() },
            .init("database") { try await database.close() },
        ]))
        app.addServices(
            usageFlusher,
            CatalogRefresher(catalog: catalog, interval: .milliseconds(Int64(settings.catalogCheckSeconds * 1000)), logger: logger)
        )
        if let sharing {
            app.addServices(sharing.services(catalog: catalog, settings: settings))
            app.addServices(TrafficPusher(client: sharing.client, stats: traffic, nodeID: sharing.nodeID, logger: logger))
        }
        return app
    }
}

extension RotatorNode {
    /// SQLite opens at once; MySQL gets a bounded wait, so a node started alongside its database comes up.
    static func openDatabase(settings: Settings, logger: Logger) async throws -> any SQLDatabase {
        switch settings.databaseType {
        case .sqlite:
            do {
                return try await SQLiteDatabase.open(path: settings.databasePath)
            } catch {
                throw SettingsError("cannot open SQLite database at \(settings.databasePath) (DATABASE_PATH): \(error)")
            }
        case .mysql:
            guard let mysql = settings.mysql else { throw SettingsError("DB_TYPE=mysql needs DB_HOST or DATABASE_URL") }
            // Short timeouts: with the database gone, an admin write answers 503 within seconds instead of hanging.
            let connection = MariaDBConnectionSettings(
                host: mysql.host, port: mysql.port, user: mysql.user, password: mysql.password, database: mysql.database,
                connectTimeout: .seconds(2), readTimeout: .seconds(4), writeTimeout: .seconds(4), tls: mysql.tls
            )
            var lastError: (any Error)?
            for attempt in 0..<30 {
                do {
                    return try await MariaDBDatabase.connect(connection, logger: logger)
                } catch {
                    if MariaDBTLS.isSettingsError(error) {
                        // TLS refused or not verified, access denied: waiting cannot fix the settings.
                        throw SettingsError("cannot connect to MySQL at \(mysql.host):\(mysql.port) with DB_TLS=\(mysql.tls.mode.rawValue): \(error)")
                    }
                    lastError = error
                    if attempt == 0 { logger.warning("waiting for MySQL at \(mysql.host):\(mysql.port)", metadata: ["error": "\(error)"]) }
                    try await Task.sleep(for: .seconds(1))
                }
            }
            throw SettingsError("cannot reach MySQL at \(mysql.host):\(mysql.port) (DB_HOST/DB_PORT or DATABASE_URL): \(lastError.map { "\($0)" } ?? "unknown error")")
        }
    }

    func makeAdminAPI() async -> AdminAPI {
        let lifetime = Double(settings.tokenLifetimeMinutes) * 60
        let flusher = usageFlusher
        var api = AdminAPI(
            store: store, catalog: catalog, coordinator: coordinator,
            settings: AdminSettings(
                username: settings.adminUsername, password: secrets.adminPassword, jwtSecret: secrets.jwtSecret,
                tokenLifetimeSeconds: lifetime, publicBaseURL: settings.publicBaseURL,
                clientAddresses: ClientAddressResolver(trustedProxies: settings.trustedProxies)
            ),
            // Tokens carry a generation of the admin password under the JWT secret: changing either ends them all.
            tokens: await AdminTokens(
                secret: secrets.jwtSecret, password: secrets.adminPassword, lifetimeSeconds: lifetime, revocations: tokenRevocations
            ),
            loginLimiter: loginLimiter,
            flushUsage: { await flusher.flush() },
            clusterNodes: { [sharing, mode, catalog, settings, startedAt] in
                if let sharing { return await sharing.clusterNodes() }
                let degraded = catalog.storeReachable ? [:] : ["store": "unreachable: serving from cache, admin writes answer 503"]
                return [ClusterNode(id: "local", address: "\(settings.host):\(settings.port)", mode: mode, lastSeen: Date(),
                                    version: RotatorVersion.current, startedAt: startedAt, degradedReasons: degraded, isThisNode: true)]
            },
            trafficSource: sharing.map { FleetTraffic(client: $0.client, local: traffic).source } ?? .node(traffic),
            probe: KeyProbe(client: probeClient),
            // The relay's quota (nil until one is wired): the client-key answers show its counts beside the limits.
            clientQuota: proxy.clientQuota
        )
        api.clientKeyNames = { [registry = proxy.clientKeys] in registry.directory.namesByID }
        return api
    }

    /// The admin routes this node registers (for documentation checks).
    public func adminRoutes() async -> [AdminRoute] {
        await makeAdminAPI().routes
    }
}
