import RotatorStore

/// A request body that checks its own rules once decoded: `AdminJSON.decode` hands a handler only valid input, and a
/// broken rule answers 422 naming the field (through `AdminErrorMiddleware`).
protocol AdminInput: Decodable, Sendable {
    func validate() throws(ValidationError)
}

extension AdminInput {
    /// Inputs whose every rule is their JSON shape, or whose rules need the stored config (`ProxyConfigInput.draft(over:)`).
    func validate() {}
}

struct LoginInput: AdminInput {
    var username: String
    var password: String
}

struct LoginOutput: Encodable {
    var access_token: String
    var token_type = "bearer"
}

struct StatusInput: AdminInput {
    var is_active: Bool
}

/// The document's KeyInput: taken as it is, under the one rule every import applies.
struct KeyInput: AdminInput {
    var key_value: String
    var is_active: Bool?

    func validate() throws(ValidationError) {
        if let rejection = KeySecretPolicy.rejection(of: key_value) { throw ValidationError("field 'key_value' \(rejection.requirement)") }
    }
}

/// A batch import: keys the store then trims, skips when empty or already there, and reports.
struct BatchInput: AdminInput {
    static let maximumCount = 100_000
    var keys: [String]

    func validate() throws(ValidationError) {
        guard keys.count <= Self.maximumCount else { throw ValidationError("field 'keys' holds at most \(Self.maximumCount) keys per call") }
        if let tooLong = keys.firstIndex(where: { $0.unicodeScalars.count > KeySecretPolicy.maximumLength }) {
            throw ValidationError("field 'keys[\(tooLong)]' is longer than \(KeySecretPolicy.maximumLength) characters")
        }
    }
}

struct DeletedOutput: Encodable {
    var id: Int64
    var deleted: Int
}
