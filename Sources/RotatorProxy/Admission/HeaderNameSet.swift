/// A fixed set of header names, matched without regard to ASCII case and without building a lower-cased copy of the
/// name or hashing it: names are bucketed by length and compared byte by byte (every proxied header asks).
struct HeaderNameSet: Sendable {
    /// Lower-case names by their UTF-8 length.
    private let byLength: [[[UInt8]]]

    init(_ names: [String]) {
        var byLength = [[[UInt8]]](repeating: [], count: (names.map(\.utf8.count).max() ?? 0) + 1)
        for name in names { byLength[name.utf8.count].append(Array(name.lowercased().utf8)) }
        self.byLength = byLength
    }

    func contains(_ name: String) -> Bool {
        let count = name.utf8.count
        guard count < byLength.count else { return false }
        return byLength[count].contains { Self.equalIgnoringASCIICase(name, $0) }
    }

    /// `name` equals `lowercase` (already in lower case) but for the case of ASCII letters.
    static func equalIgnoringASCIICase(_ name: String, _ lowercase: [UInt8]) -> Bool {
        guard name.utf8.count == lowercase.count else { return false }
        var index = 0
        for byte in name.utf8 {
            guard lowercasedASCII(byte) == lowercase[index] else { return false }
            index += 1
        }
        return true
    }

    /// `value` starts with `lowercasePrefix` (already in lower case) but for the case of ASCII letters.
    static func hasPrefixIgnoringASCIICase(_ value: String, _ lowercasePrefix: [UInt8]) -> Bool {
        let utf8 = value.utf8
        return utf8.count >= lowercasePrefix.count
            && zip(utf8.prefix(lowercasePrefix.count), lowercasePrefix).allSatisfy { lowercasedASCII($0) == $1 }
    }

    /// `A`–`Z` to `a`–`z`; every other byte as it is.
    static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }
}
