import SecretRedaction

extension UsableKey: SecretRedacting {
    /// The mask is what admins see too (`sk-…9f2a`): enough to tell keys apart in a log, not to use one.
    public var redactedFields: [(label: String, value: Any)] {
        [("id", id), ("secret", SecretMasking.mask(secret))]
    }
}
