/// Masks a secret for display: enough to recognise a key (`sk-…9f2a`), never enough to use it.
public enum SecretMasking {
    public static func mask(_ secret: String) -> String {
        let characters = Array(secret)
        switch characters.count {
        case 16...:
            return String(characters.prefix(3)) + "…" + String(characters.suffix(4))
        case 8..<16:
            return "…" + String(characters.suffix(2))
        default:
            return "…"
        }
    }
}

/// Compares secrets in time that depends only on their lengths, never on where they differ.
public enum ConstantTime {
    public static func equals(_ lhs: some StringProtocol, _ rhs: some StringProtocol) -> Bool {
        equals(String(lhs), String(rhs))
    }

    /// Native strings are compared in place (every proxied request compares its key with each proxy key).
    public static func equals(_ lhs: String, _ rhs: String) -> Bool {
        let inPlace = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right in equals(left, right) }
        }
        return (inPlace ?? nil) ?? equals(Array(lhs.utf8), Array(rhs.utf8))
    }

    public static func equals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        lhs.withUnsafeBufferPointer { left in rhs.withUnsafeBufferPointer { right in equals(left, right) } }
    }

    public static func equals(_ lhs: UnsafeBufferPointer<UInt8>, _ rhs: UnsafeBufferPointer<UInt8>) -> Bool {
        var difference = UInt8(truncatingIfNeeded: lhs.count ^ rhs.count)
        let count = max(lhs.count, rhs.count)
        // Walk the longer length so a short guess costs as much as a long one.
        for index in 0..<count {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0 && lhs.count == rhs.count
    }

    /// True when `candidate` equals any of `secrets`; every secret is compared, whatever matches.
    public static func matchesAny(_ candidate: some StringProtocol, of secrets: [String]) -> Bool {
        let candidate = String(candidate)
        var matched = false
        for secret in secrets where equals(candidate, secret) {
            matched = true
        }
        return matched
    }
}
