import RotatorCore
import SecretRedaction

extension NodeSecrets: SecretRedacting {
    /// The announcements hold freshly generated secrets too: only their count is shown.
    public var redactedFields: [(label: String, value: Any)] {
        [
            ("adminPassword", RedactedSecret.present), ("jwtSecret", RedactedSecret.present),
            ("proxyKeys", "\(proxyKeys.count) keys"), ("encryptionKey", RedactedSecret.present),
            ("announcements", "\(announcements.count) lines"),
        ]
    }
}
