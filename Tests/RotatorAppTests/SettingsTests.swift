import RotatorApp
import Testing

@Suite struct SettingsTests {
    @Test func defaults() throws {
        let settings = try Settings.fromEnvironment([:])
        #expect(settings.port == 8000)
        #expect(settings.logLevel == .info)
        #expect(settings.adminUsername == "admin")
        #expect(settings.adminPassword == nil)
        #expect(settings.proxyKeys == nil)
        #expect(settings.proxyTimeout == 30)
        #expect(settings.publicBaseURL == "http://localhost:8000")
        #expect(settings.databaseType == .sqlite)
        #expect(settings.databasePath == "./data/rotator.db")
        #expect(settings.maxRetries == 3)
        #expect(settings.cooldownSeconds == 60)
        #expect(settings.maxBodyBytes == 10 * 1024 * 1024)
        #expect(settings.cacheType == .memory)
        #expect(settings.corsAllowedOrigins.isEmpty)
        #expect(settings.dataDirectory.hasSuffix("data"))
    }

    @Test func parsesValues() throws {
        let settings = try Settings.fromEnvironment([
            "BACKEND_PORT": "9001", "LOG_LEVEL": "DEBUG", "GLOBAL_PROXY_KEYS": " a, b ,,c ", "PROXY_TIMEOUT": "12.5",
            "PROXY_PUBLIC_BASE_URL": "https://rotator.example.com/", "MAX_RETRIES": "0", "COOLDOWN_SECONDS": "5", "MAX_BODY_BYTES": "2048",
            "QUOTA_COOLDOWN_SECONDS": "7200", "RATE_LIMIT_MAX_KEYS": "5",
        ])
        #expect(settings.port == 9001)
        #expect(settings.logLevel == .debug)
        #expect(settings.proxyKeys == ["a", "b", "c"])
        #expect(settings.proxyTimeout == 12.5)
        #expect(settings.publicBaseURL == "https://rotator.example.com")
        #expect(settings.maxRetries == 0)
        #expect(settings.maxBodyBytes == 2048)
        #expect(settings.quotaCooldownSeconds == 7200)
        #expect(try Settings.fromEnvironment([:]).quotaCooldownSeconds == 3600)
        #expect(settings.rateLimitMaxKeys == 5)
        #expect(try Settings.fromEnvironment([:]).rateLimitMaxKeys == 3)
    }

    @Test func requestDeadlinesAreParsed() throws {
        let defaults = try Settings.fromEnvironment([:])
        #expect(defaults.clientRequestTimeout == 60)
        #expect(defaults.proxyTotalTimeout == nil, "twice PROXY_TIMEOUT, decided with the proxy's settings")
        let set = try Settings.fromEnvironment(["CLIENT_REQUEST_TIMEOUT": "300", "PROXY_TIMEOUT": "20", "PROXY_TOTAL_TIMEOUT": "45"])
        #expect(set.clientRequestTimeout == 300)
        #expect(set.proxyTotalTimeout == 45)
    }

    @Test func fleetAndEdgeVariablesAreParsed() throws {
        let settings = try Settings.fromEnvironment([
            "TRUSTED_PROXIES": "10.0.0.0/8, ::1", "CATALOG_CHECK_SECONDS": "1.5", "USAGE_FLUSH_SECONDS": "60",
        ])
        #expect(settings.trustedProxies.map(\.description) == ["10.0.0.0/8", "::1"])
        #expect(settings.catalogCheckSeconds == 1.5)
        #expect(settings.usageFlushSeconds == 60)
        let defaults = try Settings.fromEnvironment([:])
        #expect(defaults.trustedProxies.isEmpty && defaults.catalogCheckSeconds == 3 && defaults.usageFlushSeconds == 5)
    }

    @Test func clientKeyDefaultMaxTokensIsParsedAndChecked() throws {
        #expect(try Settings.fromEnvironment([:]).clientKeyDefaultMaxTokens == 4096)
        #expect(try Settings.fromEnvironment(["CLIENT_KEY_DEFAULT_MAX_TOKENS": "1024"]).clientKeyDefaultMaxTokens == 1024)
        for bad in ["0", "-5", "many", "10000001"] {
            #expect(throws: (any Error).self, "\(bad)") { try Settings.fromEnvironment(["CLIENT_KEY_DEFAULT_MAX_TOKENS": bad]) }
            do {
                _ = try Settings.fromEnvironment(["CLIENT_KEY_DEFAULT_MAX_TOKENS": bad])
            } catch {
                #expect("\(error)".contains("CLIENT_KEY_DEFAULT_MAX_TOKENS must be a whole number from 1 to 10000000"), "\(error)")
            }
        }
    }

    @Test func enterpriseVariablesAreParsed() throws {
        let url = try Settings.fromEnvironment(["DATABASE_URL": "mysql://rot:p%40ss@db.local:3307/keys", "REDIS_URL": "redis://:pw@cache:6380/2"])
        #expect(url.databaseType == .mysql)
        #expect(url.mysql?.host == "db.local")
        #expect(url.mysql?.port == 3307)
        #expect(url.mysql?.password == "p@ss")
        #expect(url.mysql?.database == "keys")
        #expect(url.cacheType == .redis)
        #expect(url.redis?.port == 6380)
        #expect(url.redis?.database == 2)
        #expect(url.redis?.password == "pw")
        let parts = try Settings.fromEnvironment(["DB_TYPE": "MySQL", "DB_HOST": "h", "DB_USER": "u", "DB_NAME": "n", "CACHE_TYPE": "redis", "REDIS_HOST": "r"])
        #expect(parts.mysql?.user == "u")
        #expect(parts.redis?.host == "r")
    }

    @Test(arguments: [
        (["DB_TYPE": "oracle"], "DB_TYPE"),
        (["BACKEND_PORT": "eighty"], "BACKEND_PORT"),
        (["BACKEND_PORT": "70000"], "BACKEND_PORT"),
        (["PROXY_TIMEOUT": "-1"], "PROXY_TIMEOUT"),
        (["MAX_RETRIES": "1.5"], "MAX_RETRIES"),
        (["LOG_LEVEL": "loud"], "LOG_LEVEL"),
        (["CACHE_TYPE": "memcached"], "CACHE_TYPE"),
        (["DB_TYPE": "mysql"], "DB_HOST"),
        (["DATABASE_URL": "mysql://"], "DATABASE_URL"),
        (["REDIS_URL": "http://x"], "REDIS_URL"),
        (["PROXY_PUBLIC_BASE_URL": "localhost:8000"], "PROXY_PUBLIC_BASE_URL"),
        (["JWT_SECRET": "short"], "JWT_SECRET"),
        (["GLOBAL_PROXY_KEYS": " , "], "GLOBAL_PROXY_KEYS"),
        (["TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"], "TRUSTED_PROXIES"),
        (["CATALOG_CHECK_SECONDS": "0"], "CATALOG_CHECK_SECONDS"),
        (["USAGE_FLUSH_SECONDS": "nan"], "USAGE_FLUSH_SECONDS"),
        (["QUOTA_COOLDOWN_SECONDS": "0"], "QUOTA_COOLDOWN_SECONDS"),
        (["RATE_LIMIT_MAX_KEYS": "0"], "RATE_LIMIT_MAX_KEYS"),
        (["CLIENT_REQUEST_TIMEOUT": "0"], "CLIENT_REQUEST_TIMEOUT"),
        (["PROXY_TIMEOUT": "30", "PROXY_TOTAL_TIMEOUT": "10"], "PROXY_TOTAL_TIMEOUT"),
    ])
    func badValuesNameTheVariable(environment: [String: String], variable: String) {
        do {
            _ = try Settings.fromEnvironment(environment)
            Issue.record("accepted \(environment)")
        } catch {
            #expect("\(error)".contains(variable), "\(error)")
        }
    }
}

@Suite struct EnterpriseProxyKeyTests {
    static let enterprise = [
        "ADMIN_PASSWORD": "a-real-passphrase-0123", "JWT_SECRET": "jwt-secret-0123456789abcdef", "ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "DATABASE_URL": "mysql://rotator:pw@db:3306/rotator", "REDIS_URL": "redis://cache:6379/0",
    ]

    @Test func shortProxyKeysRefuseToStartInEnterpriseMode() throws {
        for keys in ["x", "rk-long-enough-key-0123456789,only-15-chars-k"] {
            let settings = try Settings.fromEnvironment(Self.enterprise.merging(["GLOBAL_PROXY_KEYS": keys]) { $1 })
            let error = #expect(throws: SettingsError.self) { try NodeSecrets.resolve(settings) }
            #expect(error?.description.contains("GLOBAL_PROXY_KEYS") == true, "\(String(describing: error))")
            #expect(error?.description.contains("at least 16") == true, "\(String(describing: error))")
            #expect(error?.description.contains("only-15-chars-k") == false, "the message names no key")
        }
        let long = try Settings.fromEnvironment(Self.enterprise.merging(["GLOBAL_PROXY_KEYS": "rk-0123456789abcdef"]) { $1 })
        #expect(try NodeSecrets.resolve(long).proxyKeys == ["rk-0123456789abcdef"])
    }
}

@Suite struct MetricsTokenSettingTests {
    @Test func metricsTokenIsReadAndChecked() throws {
        #expect(try Settings.fromEnvironment([:]).metricsToken == nil)
        #expect(try Settings.fromEnvironment(["METRICS_TOKEN": "metrics-token-0123456789"]).metricsToken == "metrics-token-0123456789")
        let error = #expect(throws: SettingsError.self) { try Settings.fromEnvironment(["METRICS_TOKEN": "short"]) }
        #expect(error?.description.contains("METRICS_TOKEN") == true)
    }
}
