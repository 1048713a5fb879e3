import AdminWebUI
import AsyncHTTPClient
import ConfigCatalog
import Foundation
import Hummingbird
import KeyCoordination
import Logging
import MariaDBDriver
import Metrics
import NIOCore
import Prometheus
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
    public let usageFlusher: UsageFlusher
    let database: any SQLDatabase
    let httpClient: HTTPClient
    let logger: Logger
    /// Redis-backed sharing between nodes; nil in lightweight mode.
    let sharing: ClusterSharing?
    /// Everything `/metrics` shows; each node has its own.
    let metricsRegistry: PrometheusCollectorRegistry
    /// The last hour of traffic per config and key (admin charts); pushed to Redis in enterprise mode.
    let traffic: TrafficStats

    var mode: String { settings.isEnterprise ? "enterprise" : "lightweight" }
    /// When this process made its node (shown by `/admin/cluster`).
    let startedAt = Date()

    /// Opens the store and builds the node's parts; nothing listens yet.
    /// - Parameter coordinationPolicy: quarantine timings; tests shorten them, production keeps the standard.
    public static func make(settings: Settings, logger: Logger, coordinationPolicy: CoordinationPolicy = .standard) async throws -> RotatorNode {
        let secrets = try NodeSecrets.resolve(settings)
        let cipher: KeyCipher
        do {
            cipher = try KeyCipher(base64: secrets.encryptionKey)
        } catch {
            throw SettingsError("ENCRYPTION_KEY must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)")
        }
        let database = try await openDatabase(settings: settings, logger: logger)
        let store = SQLConfigStore(database: database, cipher: cipher)
        let metricsRegistry = PrometheusCollectorRegistry()
        let sharing = ClusterSharing.make(
            settings: settings, policy: coordinationPolicy, logger: logger, metricsFactory: PrometheusMetricsFactory(registry: metricsRegistry)
        )
        let coordinator: any KeyCoordinator = sharing?.coordinator ?? InMemoryKeyCoordinator(policy: coordinationPolicy)
        let catalog = ConfigCatalog(
            store: store, coordinator: coordinator, publisher: sharing?.publisher ?? LocalOnlyChangePublisher(), logger: logger
        )
        var clientConfiguration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(min(settings.proxyTimeout, 10) * 1000)), read: .milliseconds(Int64(settings.proxyTimeout * 1000))),
            decompression: .disabled
        )
        clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1024)
        // A refused connection should fail now and let the proxy try another key, not be retried until the timeout.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        return RotatorNode(
            settings: settings, secrets: secrets, store: store, coordinator: coordinator, catalog: catalog,
            usageFlusher: UsageFlusher(coordinator: coordinator, store: store, logger: logger),
            database: database, httpClient: httpClient, logger: logger, sharing: sharing, metricsRegistry: metricsRegistry,
            traffic: TrafficStats(clock: { Date().timeIntervalSince1970 })
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
        router.add(middleware: ProxyMiddleware(
            catalog: catalog, coordinator: coordinator, httpClient: httpClient,
            settings: ProxySettings(
                proxyKeys: secrets.proxyKeys, maxRetries: settings.maxRetries, defaultCooldown: settings.cooldownSeconds,
                timeout: settings.proxyTimeout, maxBodyBytes: settings.maxBodyBytes
            ),
            metrics: ProxyMetrics(factory: PrometheusMetricsFactory(registry: metricsRegistry), traffic: traffic)
        ))
        await makeAdminAPI().register(on: router)
        AdminWebUI.register(on: router)
        let registry = metricsRegistry
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: registry.emitToString()))
            )
        }
        HealthRoutes(catalog: catalog, mode: mode, readinessNeedsStore: !settings.isEnterprise, degradation: { [sharing] in sharing?.degradation() ?? [:] }).register(on: router)

        var app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "api-key-rotator"),
            onServerRunning: onServerRunning,
            logger: logger
        )
        let store = self.store
        let catalog = self.catalog
        let database = self.database
        let httpClient = self.httpClient
        app.beforeServerStarts {
            try await store.migrate()
            try await catalog.reloadAll()
        }
        if let sharing {
            app.addServices(sharing.services(catalog: catalog, settings: settings))
            app.addServices(TrafficPusher(client: sharing.client, stats: traffic, nodeID: sharing.nodeID, logger: logger))
        }
        app.addServices(
            usageFlusher,
            // A few seconds: how long a node may miss an invalidation message before it notices the version moved.
            CatalogRefresher(catalog: catalog, interval: .seconds(3), logger: logger),
            HTTPClientShutdown { [sharing] in
                try await httpClient.shutdown()
                await sharing?.shutdown()
                try await database.close()
            }
        )
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
                connectTimeout: .seconds(2), readTimeout: .seconds(4), writeTimeout: .seconds(4)
            )
            var lastError: (any Error)?
            for attempt in 0..<30 {
                do {
                    return try await MariaDBDatabase.connect(connection, logger: logger)
                } catch {
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
        return AdminAPI(
            store: store, catalog: catalog, coordinator: coordinator,
            settings: AdminSettings(
                username: settings.adminUsername, password: secrets.adminPassword, jwtSecret: secrets.jwtSecret,
                tokenLifetimeSeconds: lifetime, publicBaseURL: settings.publicBaseURL
            ),
            tokens: await AdminTokens(secret: secrets.jwtSecret, lifetimeSeconds: lifetime),
            flushUsage: { await flusher.flush() },
            clusterNodes: { [sharing, mode, catalog, settings, startedAt] in
                if let sharing { return await sharing.clusterNodes() }
                let degraded = catalog.storeReachable ? [:] : ["store": "unreachable: serving from cache, admin writes answer 503"]
                return [ClusterNode(id: "local", address: "\(settings.host):\(settings.port)", mode: mode, lastSeen: Date(),
                                    version: RotatorVersion.current, startedAt: startedAt, degradedReasons: degraded, isThisNode: true)]
            },
            trafficSource: sharing.map { FleetTraffic(client: $0.client, local: traffic).source } ?? .node(traffic),
            probe: KeyProbe(client: httpClient)
        )
    }

    /// The admin routes this node registers (for documentation checks).
    public func adminRoutes() async -> [AdminRoute] {
        await makeAdminAPI().routes
    }
}
