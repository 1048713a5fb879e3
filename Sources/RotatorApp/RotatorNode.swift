import AsyncHTTPClient
import ConfigCatalog
import Foundation
import Hummingbird
import KeyCoordination
import Logging
import NIOCore
import RotatorAdmin
import RotatorCore
import RotatorHTTP
import RotatorProxy
import RotatorSQL
import RotatorStore
import SQLiteDriver

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
    let mode: String

    /// Opens the store and builds the node's parts; nothing listens yet.
    /// - Parameter coordinationPolicy: quarantine timings; tests shorten them, production keeps the standard.
    public static func make(settings: Settings, logger: Logger, coordinationPolicy: CoordinationPolicy = .standard) async throws -> RotatorNode {
        guard settings.databaseType == .sqlite else {
            throw SettingsError("DB_TYPE=mysql (enterprise mode) is not available in this build yet; unset DB_TYPE/DATABASE_URL to use SQLite")
        }
        guard settings.cacheType == .memory else {
            throw SettingsError("CACHE_TYPE=redis (enterprise mode) is not available in this build yet; unset CACHE_TYPE/REDIS_URL to keep key state in memory")
        }
        let secrets = try NodeSecrets.resolve(settings)
        let cipher: KeyCipher
        do {
            cipher = try KeyCipher(base64: secrets.encryptionKey)
        } catch {
            throw SettingsError("ENCRYPTION_KEY must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)")
        }
        let database: any SQLDatabase
        do {
            database = try await SQLiteDatabase.open(path: settings.databasePath)
        } catch {
            throw SettingsError("cannot open SQLite database at \(settings.databasePath) (DATABASE_PATH): \(error)")
        }
        let store = SQLConfigStore(database: database, cipher: cipher)
        let coordinator = InMemoryKeyCoordinator(policy: coordinationPolicy)
        let catalog = ConfigCatalog(store: store, coordinator: coordinator, logger: logger)
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
            database: database, httpClient: httpClient, logger: logger, mode: "lightweight"
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
            )
        ))
        await makeAdminAPI().register(on: router)
        HealthRoutes(store: store, catalog: catalog, mode: mode).register(on: router)

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
        app.addServices(
            usageFlusher,
            CatalogRefresher(catalog: catalog, interval: .seconds(30), logger: logger),
            HTTPClientShutdown {
                try await httpClient.shutdown()
                try await database.close()
            }
        )
        return app
    }
}

extension RotatorNode {
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
            flushUsage: { await flusher.flush() }
        )
    }

    /// The admin routes this node registers (for documentation checks).
    public func adminRoutes() async -> [AdminRoute] {
        await makeAdminAPI().routes
    }
}
