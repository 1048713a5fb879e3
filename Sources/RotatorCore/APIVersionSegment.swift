/// A path segment that names an API version (`v1`, `v2`, `v1beta`, `v1alpha`, `v1beta1`): where a base URL and a
/// client's (or a converter's) path meet, two of them in a row are one version said twice.
public enum APIVersionSegment {
    /// Inlinable so callers in other modules get it specialized for `String`/`Substring` (unspecialized, each call
    /// walks the segment through generic metadata and protocol witnesses).
    @inlinable
    public static func matches(_ segment: some StringProtocol) -> Bool {
        let bytes = segment.utf8
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "v"), (0x30...0x39).contains(bytes[bytes.index(after: bytes.startIndex)]) else { return false }
        return bytes.dropFirst().allSatisfy { (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) }
    }
}
