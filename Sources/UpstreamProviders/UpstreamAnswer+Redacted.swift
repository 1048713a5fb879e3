import SecretRedaction

/// The provider's message may echo the request or a hint of the key: a verdict prints without it (the admin page
/// gets it only through `ProviderMessage.scrub`).
extension UpstreamAnswer: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [("status", status), ("blame", blame), ("signature", signature), ("reason", reason), ("isStatusOnly", isStatusOnly),
         ("isPerModel", isPerModel), ("providerMessage", RedactedSecret(providerMessage))]
    }
}
