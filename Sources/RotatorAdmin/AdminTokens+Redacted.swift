import RotatorCore
import SecretRedaction

extension AdminTokens: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [("signingKey", RedactedSecret.present), ("lifetimeSeconds", lifetime)]
    }
}
