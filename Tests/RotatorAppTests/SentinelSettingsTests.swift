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
}
