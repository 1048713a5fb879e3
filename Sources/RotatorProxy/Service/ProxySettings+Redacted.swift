import RotatorCore
import SecretRedaction

extension ProxySettings: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [
            ("proxyKeys", "\(proxyKeys.count) keys"), ("maxRetries", maxRetries), ("defaultCooldown", defaultCooldown),
            ("timeout", timeout), ("totalTimeout", totalTimeout), ("maxBodyBytes", maxBodyBytes), ("pacingMaxWait", pacingMaxWait),
            ("rateLimitMaxKeys", rateLimitMaxKeys), ("wrongKeyLimit", wrongKeyLimit), ("clientAddresses", clientAddresses.trustedProxies),
            ("clientKeyDefaultMaxTokens", clientKeyDefaultMaxTokens),
        ]
    }
}
