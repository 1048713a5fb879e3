import RotatorCore
import SecretRedaction

extension ServingPool: SecretRedacting {
    public var redactedFields: [(label: String, value: Any)] {
        [("config", config), ("keyIDs", secrets.keys.sorted()), ("secrets", RedactedSecret.present)]
    }
}
