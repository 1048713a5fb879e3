import Foundation
import Logging
import MariaDBDriver
import RedisClient
import RequestIdentity
import RotatorHTTP

/// Every setting of a node, read once from the environment at start-up and validated with messages that
/// name the variable and say what to fix.
public struct Settings: Sendable, Equatable {
    public enum DatabaseType: String, Sendable, Equatable {
        case sqlite
        case mysql
    }

    public enum CacheType: String, Sendable, Equatable {
        case memory
        case redis
    }

    public struct MySQLSettings: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String
        public var database: String
        /// `DB_TLS` (or `ssl-mode` in `DATABASE_URL`) with `DB_CA_FILE`, `DB_CERT_FILE`, `DB_KEY_FILE`.
        public var tls = MariaDBTLS()
    }

    public struct RedisSettings: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var password: String?
        public var database: Int
        /// Set when the master is found through Sentinel (`REDIS_SENTINELS`); `host` and `port` are then unused.
        public var sentinel: SentinelSettings? = nil
        /// Redis 6 ACL user (`redis://user:password@…` or `REDIS_USERNAME`), on every connection.
        public var username: String? = nil
        /// TLS (`rediss://` or `REDIS_TLS=true`) with its files; nil: plain TCP.
        /// TLS to Redis as the client takes it (`REDIS_CA_FILE`, `REDIS_CERT_FILE`, `REDIS_KEY_FILE`); nil: plain TCP.
        public var tls: RedisTLS? = nil
    }

    /// `REDIS_SENTINELS`, `REDIS_SENTINEL_MASTER`, `REDIS_SENTINEL_PASSWORD`.
    public struct SentinelSettings: Sendable, Equatable {
        public var sentinels: [RedisEndpoint]
        public var masterName: String
        public var password: String?
    }


    public var host: String = "0.0.0.0"
    public var port: Int = 8000
    public var logLevel: Logger.Level = .info
    public var adminUsername: String = "admin"
    public var adminPassword: String?
    public var jwtSecret: String?
    public var tokenLifetimeMinutes: Int = 1440
    public var proxyKeys: [String]?
    public var proxyTimeout: Double = 30
    /// The most one proxied request spends before its answer starts, all attempts together (`PROXY_TOTAL_TIMEOUT`);
    /// nil: twice `proxyTimeout`.
    public var proxyTotalTimeout: Double?
    public var publicBaseURL: String = "http://localhost:8000"
    public var databaseType: DatabaseType = .sqlite
    public var databasePath: String = "./data/rotator.db"
    /// Start on a missing or empty SQLite file even though the data directory holds an earlier start's secrets
    /// (`ALLOW_FRESH_STORE`): without it such a start is refused, since the store was most likely lost or not mounted.
    public var allowFreshStore = false
    public var mysql: MySQLSettings?
    public var cacheType: CacheType = .memory
    public var redis: RedisSettings?
    public var encryptionKey: String?
    public var maxRetries: Int = 3
    public var cooldownSeconds: Double = 60
    /// Rest of a key whose money or quota is gone, unless the provider names a later time (`QUOTA_COOLDOWN_SECONDS`).
    public var quotaCooldownSeconds: Double = 3600
    /// Most keys one client request may see rate limited before it answers 429 (`RATE_LIMIT_MAX_KEYS`).
    public var rateLimitMaxKeys: Int = 3
    public var maxBodyBytes: Int = 10 * 1024 * 1024
    public var corsAllowedOrigins: [String] = []
    /// Proxies whose `X-Forwarded-For` is believed when they are the peer (`TRUSTED_PROXIES`, CIDRs).
    public var trustedProxies: [IPNetwork] = []
    /// Wrong or missing proxy keys one client address may send per minute before it gets 429 for the rest of that
    /// minute (`WRONG_PROXY_KEY_LIMIT`; 0: never).
    public var wrongProxyKeyLimit: Int = 30
    /// The output tokens a client key's request reserves against its token limits when it names no max tokens
    /// (`CLIENT_KEY_DEFAULT_MAX_TOKENS`).
    public var clientKeyDefaultMaxTokens: Int = 4096
    /// A Bearer token `/metrics` asks for (`METRICS_TOKEN`); nil: `/metrics` is open, as before.
    public var metricsToken: String?
    public var shutdownGraceSeconds: Double = 30
    /// A PEM file of extra CAs the proxy trusts for https upstreams (private CAs), beside the system's.
    public var upstreamCAFile: String?
    /// Seconds a client connection may stay idle between requests.
    public var clientIdleTimeout: Double = 75
    /// Seconds a client may pause while sending a request (slow clients).
    public var clientReadTimeout: Double = 30
    /// Seconds a client has to send one request's head and body, however steadily it trickles them.
    public var clientRequestTimeout: Double = 60
    /// Open client connections at most; more are closed on accept.
    public var maxConnections: Int = 10_000
    /// Event loops (threads) serving connections; nil: one per core.
    public var eventLoops: Int?
    /// How often a node checks the store's version for changes it missed (`CATALOG_CHECK_SECONDS`).
    public var catalogCheckSeconds: Double = 3
    /// How often usage counters are written to the store (`USAGE_FLUSH_SECONDS`); also once at shutdown.
    public var usageFlushSeconds: Double = 5

    public init() {}

    /// MySQL or Redis: several nodes share state, so nothing may be generated per node.
    public var isEnterprise: Bool { databaseType == .mysql || cacheType == .redis }

    /// The folder generated secrets are kept in: the SQLite file's folder.
    public var dataDirectory: String {
        let url = URL(fileURLWithPath: databasePath)
        return url.deletingLastPathComponent().path
    }

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Settings {
        var reader = EnvironmentReader(environment)
        var settings = Settings()
        settings.host = reader.string("BIND_HOST") ?? settings.host
        settings.port = try reader.integer("BACKEND_PORT", in: 1...65535) ?? settings.port
        settings.publicBaseURL = "http://localhost:\(settings.port)"
        if let level = reader.string("LOG_LEVEL") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw SettingsError("LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical (got '\(level)')")
            }
            settings.logLevel = parsed
        }
        settings.adminUsername = reader.string("ADMIN_USERNAME") ?? settings.adminUsername
        settings.adminPassword = reader.string("ADMIN_PASSWORD")
        settings.jwtSecret = reader.string("JWT_SECRET")
        if let secret = settings.jwtSecret, secret.utf8.count < 16 {
            throw SettingsError("JWT_SECRET must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        }
        settings.tokenLifetimeMinutes = try reader.integer("JWT_EXPIRE_MINUTES", in: 1...525_600) ?? settings.tokenLifetimeMinutes
        if let keys = reader.string("GLOBAL_PROXY_KEYS") {
            let parsed = keys.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !parsed.isEmpty else { throw SettingsError("GLOBAL_PROXY_KEYS must hold at least one key (comma-separated)") }
            settings.proxyKeys = parsed
        }
        settings.proxyTimeout = try reader.number("PROXY_TIMEOUT", in: 0.1...3600) ?? settings.proxyTimeout
        settings.proxyTotalTimeout = try reader.number("PROXY_TOTAL_TIMEOUT", in: 0.1...7200)
        if let total = settings.proxyTotalTimeout, total < settings.proxyTimeout {
            throw SettingsError(
                "PROXY_TOTAL_TIMEOUT (\(total) s) must be at least PROXY_TIMEOUT (\(settings.proxyTimeout) s): it bounds all the attempts of one request together"
            )
        }
        if let base = reader.string("PROXY_PUBLIC_BASE_URL") {
            guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw SettingsError("PROXY_PUBLIC_BASE_URL must be an http(s) URL such as https://rotator.example.com (got '\(base)')")
            }
            settings.publicBaseURL = base.hasSuffix("/") ? String(base.dropLast()) : base
        }
        settings.databasePath = reader.string("DATABASE_PATH") ?? settings.databasePath
        settings.allowFreshStore = try reader.flag("ALLOW_FRESH_STORE") ?? settings.allowFreshStore
        settings.encryptionKey = reader.string("ENCRYPTION_KEY")
        settings.maxRetries = try reader.integer("MAX_RETRIES", in: 0...20) ?? settings.maxRetries
        settings.cooldownSeconds = try reader.number("COOLDOWN_SECONDS", in: 0...86_400) ?? settings.cooldownSeconds
        settings.quotaCooldownSeconds = try reader.number("QUOTA_COOLDOWN_SECONDS", in: 1...86_400) ?? settings.quotaCooldownSeconds
        settings.rateLimitMaxKeys = try reader.integer("RATE_LIMIT_MAX_KEYS", in: 1...1000) ?? settings.rateLimitMaxKeys
        settings.maxBodyBytes = try reader.integer("MAX_BODY_BYTES", in: 1...(1 << 30)) ?? settings.maxBodyBytes
        settings.shutdownGraceSeconds = try reader.number("SHUTDOWN_GRACE_SECONDS", in: 0...3600) ?? settings.shutdownGraceSeconds
        if let caFile = reader.string("UPSTREAM_CA_FILE"), !caFile.isEmpty {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw SettingsError("UPSTREAM_CA_FILE=\(caFile) is not a readable file (a PEM file of CA certificates)")
            }
            settings.upstreamCAFile = caFile
        }
        settings.clientIdleTimeout = try reader.number("CLIENT_IDLE_TIMEOUT", in: 1...86_400) ?? settings.clientIdleTimeout
        settings.clientReadTimeout = try reader.number("CLIENT_READ_TIMEOUT", in: 1...3600) ?? settings.clientReadTimeout
        settings.clientRequestTimeout = try reader.number("CLIENT_REQUEST_TIMEOUT", in: 1...86_400) ?? settings.clientRequestTimeout
        settings.maxConnections = try reader.integer("MAX_CONNECTIONS", in: 1...1_000_000) ?? settings.maxConnections
        settings.eventLoops = try reader.integer("EVENT_LOOPS", in: 1...256)
        settings.catalogCheckSeconds = try reader.number("CATALOG_CHECK_SECONDS", in: 0.1...86_400) ?? settings.catalogCheckSeconds
        settings.usageFlushSeconds = try reader.number("USAGE_FLUSH_SECONDS", in: 0.1...86_400) ?? settings.usageFlushSeconds
        if let origins = reader.string("CORS_ALLOWED_ORIGINS") {
            settings.corsAllowedOrigins = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let proxies = reader.string("TRUSTED_PROXIES") {
            settings.trustedProxies = try proxies.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map {
                guard let network = IPNetwork(cidr: $0) else {
                    throw SettingsError("TRUSTED_PROXIES must be comma-separated IP addresses or CIDRs such as 10.0.0.0/8,::1 (got '\($0)')")
                }
                return network
            }
        }
        settings.wrongProxyKeyLimit = try reader.integer("WRONG_PROXY_KEY_LIMIT", in: 0...1_000_000) ?? settings.wrongProxyKeyLimit
        settings.clientKeyDefaultMaxTokens = try reader.integer("CLIENT_KEY_DEFAULT_MAX_TOKENS", in: 1...10_000_000) ?? settings.clientKeyDefaultMaxTokens
        settings.metricsToken = reader.string("METRICS_TOKEN")
        if let token = settings.metricsToken {
            guard token.utf8.count >= 16, token.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw SettingsError("METRICS_TOKEN must be at least 16 printable characters without spaces (e.g. `openssl rand -hex 24`)")
            }
        }
        try settings.readDatabase(&reader)
        try settings.readCache(&reader)
        return settings
    }
}
