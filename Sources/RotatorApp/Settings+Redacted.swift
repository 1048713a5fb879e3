import RotatorCore
import SecretRedaction

extension Settings: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [
            ("host", host), ("port", port), ("logLevel", logLevel), ("adminUsername", adminUsername),
            ("adminPassword", RedactedSecret(adminPassword)), ("jwtSecret", RedactedSecret(jwtSecret)),
            ("tokenLifetimeMinutes", tokenLifetimeMinutes), ("proxyKeys", RedactedSecret(proxyKeys)),
            ("proxyTimeout", proxyTimeout), ("proxyTotalTimeout", proxyTotalTimeout as Any), ("publicBaseURL", publicBaseURL), ("databaseType", databaseType),
            ("databasePath", databasePath), ("mysql", mysql as Any), ("cacheType", cacheType), ("redis", redis as Any),
            ("encryptionKey", RedactedSecret(encryptionKey)), ("maxRetries", maxRetries), ("cooldownSeconds", cooldownSeconds),
            ("maxBodyBytes", maxBodyBytes), ("corsAllowedOrigins", corsAllowedOrigins), ("trustedProxies", trustedProxies),
            ("metricsToken", RedactedSecret(metricsToken)), ("wrongProxyKeyLimit", wrongProxyKeyLimit), ("clientKeyDefaultMaxTokens", clientKeyDefaultMaxTokens),
            ("shutdownGraceSeconds", shutdownGraceSeconds), ("catalogCheckSeconds", catalogCheckSeconds),
            ("usageFlushSeconds", usageFlushSeconds), ("clientRequestTimeout", clientRequestTimeout),
        ]
    }
}

extension Settings.MySQLSettings: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [
            ("host", host), ("port", port), ("user", user), ("password", RedactedSecret(isSet: !password.isEmpty)), ("database", database),
            ("tls", tls),
        ]
    }
}

extension Settings.RedisSettings: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [
            ("host", host), ("port", port), ("password", RedactedSecret(password)), ("database", database),
            ("sentinel", sentinel as Any), ("username", username as Any), ("tls", tls as Any),
        ]
    }
}

extension Settings.SentinelSettings: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [("sentinels", sentinels.map(\.description)), ("masterName", masterName), ("password", RedactedSecret(password))]
    }
}
