import SecretRedaction

extension MariaDBConnectionSettings: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [
            ("host", host), ("port", port), ("user", user), ("password", RedactedSecret(isSet: !password.isEmpty)),
            ("database", database), ("connectTimeout", connectTimeout), ("readTimeout", readTimeout), ("writeTimeout", writeTimeout),
            ("tls", tls),
        ]
    }
}
