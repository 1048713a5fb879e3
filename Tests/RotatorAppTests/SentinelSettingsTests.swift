import RotatorApp
import Testing

@Suite struct SentinelSettingsTests {
    @Test func sentinelsAndMasterNameMakeAnEnterpriseCache() throws {
        let settings = try Settings.fromEnvironment([
            "REDIS_SENTINELS": "sentinel-0:26379, sentinel-1:26380,[::1]:26381,sentinel-0:26379", "REDIS_SENTINEL_MASTER": "mymaster",
            "REDIS_SENTINEL_PASSWORD": "sentinel-secret", "REDIS_PASSWORD": "master-secret",
        ])
        #expect(settings.cacheType == .redis)
        let sentinel = try #require(settings.redis?.sentinel)
        #expect(sentinel.sentinels.map(\.description) == ["sentinel-0:26379", "sentinel-1:26380", "[::1]:26381"])
        #expect(sentinel.masterName == "mymaster")
        #expect(sentinel.password == "sentinel-secret")
        #expect(settings.redis?.password == "master-secret")
        let printed = "\(settings)"
        #expect(!printed.contains("master-secret") && !printed.contains("sentinel-secret"), "passwords are redacted: \(printed)")
        #expect(printed.contains("mymaster"))
        #expect(try Settings.fromEnvironment(["REDIS_URL": "redis://cache:6379"]).redis?.sentinel == nil)
    }

    @Test(arguments: [
        (["REDIS_SENTINELS": "s:26379"], ["REDIS_SENTINELS", "REDIS_SENTINEL_MASTER"]),
        (["REDIS_SENTINELS": "s:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_URL": "redis://cache:6379"], ["REDIS_URL", "REDIS_SENTINELS"]),
        (["REDIS_SENTINELS": "s:26379,s2", "REDIS_SENTINEL_MASTER": "m"], ["REDIS_SENTINELS", "'s2'"]),
        (["REDIS_SENTINELS": "s:26379,", "REDIS_SENTINEL_MASTER": "m"], ["REDIS_SENTINELS"]),
        (["CACHE_TYPE": "redis", "REDIS_SENTINEL_MASTER": "m"], ["REDIS_SENTINEL_MASTER", "REDIS_SENTINELS"]),
    ])
    func badSentinelSettingsNameTheVariables(environment: [String: String], names: [String]) {
        do {
            _ = try Settings.fromEnvironment(environment)
            Issue.record("accepted \(environment)")
        } catch {
            for name in names { #expect("\(error)".contains(name), "\(error)") }
        }
    }

    /// The Sentinels name the master by IP (a certificate for a host name would not verify) and the start-up TLS
    /// check has no fixed host: Sentinel with Redis TLS is refused, naming both settings, rather than failing later.
    @Test func sentinelWithRedisTLSIsRefused() throws {
        let sentinel = ["REDIS_SENTINELS": "s:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_PASSWORD": "p"]
        let error = #expect(throws: SettingsError.self) { try Settings.fromEnvironment(sentinel.merging(["REDIS_TLS": "true"]) { $1 }) }
        let message = error?.description ?? ""
        for name in ["REDIS_SENTINELS", "REDIS_TLS", "rediss"] { #expect(message.contains(name), "\(message)") }
        // Without TLS the ACL user still goes to every master connection.
        let plain = try Settings.fromEnvironment(sentinel.merging(["REDIS_USERNAME": "app", "REDIS_TLS": "false"]) { $1 })
        #expect(plain.redis?.sentinel != nil && plain.redis?.tls == nil && plain.redis?.username == "app")
    }
}
