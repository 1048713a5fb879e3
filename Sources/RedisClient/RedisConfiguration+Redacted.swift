import SecretRedaction

extension RedisConfiguration: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [
            ("host", host), ("port", port), ("password", RedactedSecret(password)), ("username", username as Any),
            ("database", database), ("connectTimeout", connectTimeout), ("commandTimeout", commandTimeout),
            ("tls", tls as Any),
        ]
    }
}
