import Foundation
import MariaDBDriver
import RedisClient

/// The shared state's settings: `REDIS_URL` (TLS, ACL user) or Sentinel (`REDIS_SENTINELS`), none for memory.
extension Settings {
    mutating func readCache(_ reader: inout EnvironmentReader) throws {
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
    static func readRedisTLS(_ reader: inout EnvironmentReader, urlAsksForTLS: Bool) throws -> RedisTLS? {
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

    /// Redis through Sentinel: the node asks the Sentinels for the master. `REDIS_URL` names one fixed server,
    /// so both together are refused rather than one silently ignored.
    static func sentinelRedis(_ list: String, url: String?, reader: EnvironmentReader) throws -> RedisSettings {
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
