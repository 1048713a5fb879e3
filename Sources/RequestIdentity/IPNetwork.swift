#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `fd00::/8`; a bare address is one host), as
/// `TRUSTED_PROXIES` lists them. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) counts as its IPv4 address.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    /// 4 or 16 bytes, host bits cleared.
    let bytes: [UInt8]
    let prefixLength: Int
    public let description: String

    public init?(cidr: String) {
        let text = cidr.trimmingASCIIWhitespace()
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.addressBytes(String(parts[0])) else { return nil }
        // An IPv4-mapped IPv6 network's prefix counts the 96 bits before the IPv4 part.
        let mappedOffset = address.count == 4 && parts[0].contains(":") ? 96 : 0
        let maximum = address.count * 8
        var length = maximum
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (mappedOffset...(maximum + mappedOffset)).contains(parsed), parts[1].allSatisfy(\.isASCII)
            else { return nil }
            length = parsed - mappedOffset
        }
        self.bytes = Self.masked(address, prefixLength: length)
        self.prefixLength = length
        self.description = text
    }

    /// The same network, however it was written.
    public static func == (lhs: IPNetwork, rhs: IPNetwork) -> Bool {
        lhs.bytes == rhs.bytes && lhs.prefixLength == rhs.prefixLength
    }

    public func contains(_ address: [UInt8]) -> Bool {
        address.count == bytes.count && Self.masked(address, prefixLength: prefixLength) == bytes
    }

    /// The bytes of an IPv4 (4) or IPv6 (16) address in text form; IPv4-mapped IPv6 comes back as IPv4.
    public static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return Array(bytes.suffix(4)) }
        return bytes
    }

    private static func masked(_ address: [UInt8], prefixLength: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let bits = min(max(prefixLength - index * 8, 0), 8)
            return bits == 8 ? byte : byte & ~(UInt8(0xFF) >> bits)
        }
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
