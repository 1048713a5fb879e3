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

    private mutating func readDatabase(_ reader: inout EnvironmentReader) throws {
        let url = reader.string("DATABASE_URL")
        if let type = reader.string("DB_TYPE") {
            guard let parsed = DatabaseType(rawValue: type.lowercased()) else {
                throw SettingsError("DB_TYPE must be 'sqlite' or 'mysql' (got '\(type)')")
            }
            databaseType = parsed
        } else if let url, url.lowercased().hasPrefix("mysql://") {
            databaseType = .mysql
        }
        guard databaseType == .mysql else { return }
        if let url {
            guard let parsed = URLComponents(string: url), parsed.scheme?.lowercased() == "mysql", let host = parsed.host, !host.isEmpty else {
                throw SettingsError("DATABASE_URL must look like mysql://user:password@host:3306/database")
            }
            let database = parsed.path.split(separator: "/").first.map(String.init) ?? "rotator"
            mysql = MySQLSettings(
                host: host, port: parsed.port ?? 3306, user: parsed.user?.removingPercentEncoding ?? "root",
                password: parsed.password?.removingPercentEncoding ?? "", database: database
            )
        } else {
            guard let host = reader.string("DB_HOST") else {
                throw SettingsError("DB_TYPE=mysql needs DB_HOST (with DB_USER, DB_PASSWORD, DB_NAME, DB_PORT) or DATABASE_URL=mysql://...")
            }
            mysql = MySQLSettings(
                host: host, port: try reader.integer("DB_PORT", in: 1...65535) ?? 3306, user: reader.string("DB_USER") ?? "root",
                password: reader.string("DB_PASSWORD") ?? "", database: reader.string("DB_NAME") ?? "rotator"
            )
        }
        mysql?.tls = try Self.readDatabaseTLS(&reader, url: url.flatMap { URLComponents(string: $0) })
    }

    /// The path, when it names a readable file.
    private static func readablePEMFile(_ variable: String, _ path: String?) throws -> String? {
        guard let path else { return nil }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw SettingsError("\(variable)=\(path) is not a readable file (a PEM file)")
        }
        return path
    }

    /// `DB_TLS`, `DB_CA_FILE`, `DB_CERT_FILE`, `DB_KEY_FILE`, or the same as `DATABASE_URL` query options spelled as
    /// MySQL clients spell them (`ssl-mode=VERIFY_IDENTITY&ssl-ca=/path&ssl-cert=…&ssl-key=…`). A CA without a mode
    /// means `verify_ca`, as for MySQL's clients; a CA a mode would ignore is refused rather than silently unused.
    private static func readDatabaseTLS(_ reader: inout EnvironmentReader, url: URLComponents?) throws -> MariaDBTLS {
        func value(_ variable: String, _ fromEnvironment: String?, query names: [String]) throws -> String? {
            let fromURL = url?.queryItems?.first { names.contains($0.name.lowercased()) }?.value.flatMap { $0.isEmpty ? nil : $0 }
            if let fromURL, let fromEnvironment, fromURL.lowercased() != fromEnvironment.lowercased() {
                throw SettingsError("\(variable)=\(fromEnvironment) and \(names[0])=\(fromURL) in DATABASE_URL disagree: set one of them")
            }
            return fromURL ?? fromEnvironment
        }
        let modes = MariaDBTLS.Mode.allCases.map(\.rawValue).joined(separator: ", ")
        var mode: MariaDBTLS.Mode?
        if let text = try value("DB_TLS", reader.string("DB_TLS"), query: ["ssl-mode", "ssl_mode", "sslmode"]) {
            guard let parsed = MariaDBTLS.Mode(rawValue: text.lowercased()) else {
                throw SettingsError("DB_TLS (or ssl-mode in DATABASE_URL) must be one of \(modes) (got '\(text)')")
            }
            mode = parsed
        }
        let files = try [
            ("DB_CA_FILE", try value("DB_CA_FILE", reader.string("DB_CA_FILE"), query: ["ssl-ca", "ssl_ca"])),
            ("DB_CERT_FILE", try value("DB_CERT_FILE", reader.string("DB_CERT_FILE"), query: ["ssl-cert", "ssl_cert"])),
            ("DB_KEY_FILE", try value("DB_KEY_FILE", reader.string("DB_KEY_FILE"), query: ["ssl-key", "ssl_key"])),
        ].map { try Self.readablePEMFile($0.0, $0.1) }
        let tls = MariaDBTLS(mode: mode ?? (files[0] == nil ? .preferred : .verifyCA), caFile: files[0], certificateFile: files[1], keyFile: files[2])
        if tls.caFile != nil, !tls.mode.verifiesCertificate {
            throw SettingsError("DB_CA_FILE is only used by DB_TLS=verify_ca or verify_identity (DB_TLS=\(tls.mode.rawValue) would ignore it)")
        }
        if tls.mode == .verifyCA, tls.caFile == nil {
            throw SettingsError("DB_TLS=verify_ca needs DB_CA_FILE (the CA that signed the server's certificate); verify_identity can use the system's CAs")
        }
        if (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw SettingsError("DB_CERT_FILE and DB_KEY_FILE go together: a client certificate needs its key")
        }
        if tls.certificateFile != nil, tls.mode == .disabled {
            throw SettingsError("DB_CERT_FILE and DB_KEY_FILE need TLS: DB_TLS=disabled would ignore them")
        }
        return tls
    }

    private mutating func readCache(_ reader: inout EnvironmentReader) throws {
        let url = reader.string("REDIS_URL")
        let sentinels = reader.string("REDIS_SENTINELS")
        if let type = reader.string("CACHE_TYPE") {
            guard let parsed = CacheType(rawValue: type.lowercased()) else {
                throw SettingsError("CACHE_TYPE must be 'memory' or 'redis' (got '\(type)')")
            }
            cacheType = parsed
        } else if url != nil || sentinels != nil {
            cacheType = .redis
        }
        guard cacheType == .redis else { return }
        var urlAsksForTLS = false
        if let sentinels {
            redis = try Self.sentinelRedis(sentinels, url: url, reader: reader)
        } else if reader.string("REDIS_SENTINEL_MASTER") != nil {
            throw SettingsError("REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is not: list the Sentinels as REDIS_SENTINELS=host:26379,host2:26379")
        } else if let url {
            let scheme = URLComponents(string: url)?.scheme?.lowercased()
            guard let parsed = URLComponents(string: url), scheme == "redis" || scheme == "rediss", let host = parsed.host, !host.isEmpty else {
                throw SettingsError("REDIS_URL must look like redis://[[user]:password@]host:6379[/db] (rediss:// for TLS)")
            }
            urlAsksForTLS = scheme == "rediss"
            let dbText = parsed.path.split(separator: "/").first.map(String.init) ?? "0"
            guard let database = Int(dbText), database >= 0 else { throw SettingsError("REDIS_URL database must be a number (got '\(dbText)')") }
            let user = parsed.user?.removingPercentEncoding
            redis = RedisSettings(
                host: host, port: parsed.port ?? 6379, password: parsed.password?.removingPercentEncoding, database: database,
                username: user?.isEmpty == false ? user : nil
            )
        } else {
            redis = RedisSettings(
                host: reader.string("REDIS_HOST") ?? "127.0.0.1", port: try reader.integer("REDIS_PORT", in: 1...65535) ?? 6379,
                password: reader.string("REDIS_PASSWORD"), database: 0
            )
        }
        if redis?.username == nil { redis?.username = reader.string("REDIS_USERNAME") }
        if redis?.username != nil, redis?.password == nil {
            throw SettingsError("REDIS_USERNAME needs a password: REDIS_PASSWORD, or redis://user:password@host in REDIS_URL")
        }
        redis?.tls = try Self.readRedisTLS(&reader, urlAsksForTLS: urlAsksForTLS)
        if redis?.sentinel != nil, redis?.tls != nil {
            // The Sentinels name the master by IP, so a certificate issued for a host name would not match, and the
            // start-up TLS check has no fixed host to try: refused until both are handled.
            throw SettingsError(
                "REDIS_SENTINELS cannot be combined with Redis TLS (REDIS_TLS=true or rediss://) yet: "
                    + "use plain TCP to the Sentinels and the master, or a single TLS server in REDIS_URL=rediss://... without REDIS_SENTINELS"
            )
        }
    }

    /// `REDIS_TLS` and the files; TLS is on with `rediss://` or `REDIS_TLS=true`, and files without TLS are refused.
    private static func readRedisTLS(_ reader: inout EnvironmentReader, urlAsksForTLS: Bool) throws -> RedisTLS? {
        let flag = try reader.flag("REDIS_TLS")
        if flag == false && urlAsksForTLS {
            throw SettingsError("REDIS_TLS=false contradicts REDIS_URL=rediss://...: use redis:// for plain TCP or drop REDIS_TLS")
        }
        let files = try [
            ("REDIS_CA_FILE", reader.string("REDIS_CA_FILE")), ("REDIS_CERT_FILE", reader.string("REDIS_CERT_FILE")),
            ("REDIS_KEY_FILE", reader.string("REDIS_KEY_FILE")),
        ].map { try Self.readablePEMFile($0.0, $0.1) }
        guard flag == true || urlAsksForTLS else {
            if files.contains(where: { $0 != nil }) {
                throw SettingsError("REDIS_CA_FILE, REDIS_CERT_FILE and REDIS_KEY_FILE need TLS: use rediss:// in REDIS_URL or REDIS_TLS=true")
            }
            return nil
        }
        if (files[1] == nil) != (files[2] == nil) {
            throw SettingsError("REDIS_CERT_FILE and REDIS_KEY_FILE go together: a client certificate needs its key")
        }
        return RedisTLS(caFile: files[0], certificateFile: files[1], keyFile: files[2])
    }
}

extension Settings {
    /// Redis through Sentinel: the node asks the Sentinels for the master. `REDIS_URL` names one fixed server,
    /// so both together are refused rather than one silently ignored.
    fileprivate static func sentinelRedis(_ list: String, url: String?, reader: EnvironmentReader) throws -> RedisSettings {
        guard url == nil else {
            throw SettingsError(
                "REDIS_URL and REDIS_SENTINELS are both set: use one. With REDIS_SENTINELS the node asks the Sentinels for the master "
                    + "(set its password as REDIS_PASSWORD); with REDIS_URL it uses that one server"
            )
        }
        guard let masterName = reader.string("REDIS_SENTINEL_MASTER") else {
            throw SettingsError("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER: the name the Sentinels monitor the master under (e.g. mymaster)")
        }
        var endpoints: [RedisEndpoint] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            guard let endpoint = RedisEndpoint(parsing: item) else {
                throw SettingsError("REDIS_SENTINELS must be host:port pairs separated by commas, e.g. sentinel-0:26379,sentinel-1:26379 (got '\(item)')")
            }
            if !endpoints.contains(endpoint) { endpoints.append(endpoint) }
        }
        return RedisSettings(
            host: "", port: 0, password: reader.string("REDIS_PASSWORD"), database: 0,
            sentinel: SentinelSettings(sentinels: endpoints, masterName: masterName, password: reader.string("REDIS_SENTINEL_PASSWORD"))
        )
    }
}

public struct SettingsError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Reads variables, treating empty values as unset.
struct EnvironmentReader {
    private let environment: [String: String]

    init(_ environment: [String: String]) {
        self.environment = environment
    }

    func string(_ name: String) -> String? {
        guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw SettingsError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound) (got '\(text)')")
        }
        return value
    }

    func flag(_ name: String) throws -> Bool? {
        guard let text = string(name) else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw SettingsError("\(name) must be true or false (got '\(text)')")
        }
    }

    func number(_ name: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let text = string(name) else { return nil }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw SettingsError("\(name) must be a number from \(range.lowerBound) to \(range.upperBound) (got '\(text)')")
        }
        return value
    }
}
