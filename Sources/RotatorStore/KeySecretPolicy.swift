import RotatorCore

/// What a key secret must look like to be stored: one token of printable ASCII (`!` to `~`), 1 to 4096 characters.
/// The one rule for every way a key comes in (single add, batch import, the store itself).
///
/// A space inside usually means two keys pasted on one line; a control character (CR, LF) would let a key
/// smuggle a header line into the upstream request; a non-ASCII character is no provider's key and would be
/// re-encoded on its way into a header.
public enum KeySecretPolicy {
    public static let maximumLength = 4096

    public enum Rejection: Error, Equatable, Sendable {
        case blank
        case notPrintableASCII
        case tooLong

        /// What is wrong, for a sentence that names the key first ("field 'key_value' must …").
        public var requirement: String {
            switch self {
            case .blank: "must not be blank"
            case .notPrintableASCII: "must be printable ASCII without spaces or control characters"
            case .tooLong: "must be at most \(KeySecretPolicy.maximumLength) characters"
            }
        }
    }

    /// Why `secret`, taken exactly as given, cannot be stored; nil when it can.
    public static func rejection(of secret: String) -> Rejection? {
        if secret.isEmpty { return .blank }
        if secret.utf8.count > maximumLength { return secret.unicodeScalars.count > maximumLength ? .tooLong : .notPrintableASCII }
        return secret.utf8.allSatisfy { (0x21...0x7E).contains($0) } ? nil : .notPrintableASCII
    }

    /// A pasted line of a batch: surrounding whitespace trimmed, then the same rule.
    static func normalize(_ raw: String) -> Result<String, Rejection> {
        let secret = raw.trimmingWhitespace()
        return rejection(of: secret).map { .failure($0) } ?? .success(secret)
    }

    /// Why `raw` was refused, masked: never the secret itself.
    static func message(for rejection: Rejection, raw: String, position: Int?) -> String {
        if rejection == .blank { return position.map { "blank key at position \($0)" } ?? "the key is blank" }
        guard let position else { return "the key \(rejection.requirement)" }
        return "key at position \(position) (\(SecretMasking.mask(raw.trimmingWhitespace()))) \(rejection.requirement)"
    }
}
