import RotatorCore
import SecretRedaction

extension AdminSettings: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [
            ("username", username), ("password", RedactedSecret.present), ("jwtSecret", RedactedSecret.present),
            ("tokenLifetimeSeconds", tokenLifetimeSeconds), ("publicBaseURL", publicBaseURL),
        ]
    }
}
