import RotatorCore

/// What a key secret must look like to be stored: trimmed, not blank, one token of printable characters.
///
/// A space inside usually means two keys pasted on one line; a control character (CR, LF) would let a key
/// smuggle a header line into the upstream request.
enum KeySecretPolicy {
    static let maximumLength = 8192

    enum Rejection: Error, Equatable {
        case blank
        case containsWhitespaceOrControl
        case tooLong
    }

    static func normalize(_ raw: String) -> Result<String, Rejection> {
        let secret = raw.trimmingWhitespace()
        if secret.isEmpty { return .failure(.blank) }
        if secret.unicodeScalars.count > maximumLength { return .failure(.tooLong) }
        // Nearly every key is printable ASCII: check bytes first, Unicode properties only for the rest.
        let printableASCII = secret.utf8.allSatisfy { (0x21...0x7E).contains($0) }
        let clean = printableASCII || secret.unicodeScalars.allSatisfy { scalar in
            !scalar.properties.isWhitespace && scalar.properties.generalCategory != .control
                && scalar.properties.generalCategory != .format
        }
        return clean ? .success(secret) : .failure(.containsWhitespaceOrControl)
    }

    /// Why `raw` was refused, masked: never the secret itself.
    static func message(for rejection: Rejection, raw: String, position: Int?) -> String {
        let which = position.map { "key at position \($0)" } ?? "the key"
        switch rejection {
        case .blank:
            return position.map { "blank key at position \($0)" } ?? "the key is blank"
        case .containsWhitespaceOrControl:
            return "\(which) (\(SecretMasking.mask(raw.trimmingWhitespace()))) contains whitespace or control characters"
        case .tooLong:
            return "\(which) (\(SecretMasking.mask(raw.trimmingWhitespace()))) is longer than \(maximumLength) characters"
        }
    }
}
