import RotatorCore
import SecretRedaction

extension KeyCipher: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [("masterKey", RedactedSecret.present)]
    }
}
