import Foundation
import RotatorCore

/// Builds the upstream URL from the configured target and the client's path. The scheme, host and port
/// always come from the config: the client's path is re-encoded segment by segment so it can only ever
/// add path below the configured base (no `..`, no `//host`, no `@host`, no absolute URL).
///
/// Segments that some server would read as a way up or across are refused, not passed on: dot segments with path
/// parameters (`..;x`, Tomcat), segments of dots only, encoded `/` and `\` (servers that decode them before routing
/// see a separator), a raw `\`, and all of these double-encoded (`%252e%252e`, `%252F`) in any case of hex.
public enum UpstreamURLBuilder {
    public enum Failure: Error, Equatable {
        case traversal
        case badEncoding
        case encodedSeparator

        /// For the client's 400.
        public var message: String {
            switch self {
            case .traversal: return "path segments made of dots ('.', '..', '..;x') are not allowed"
            case .badEncoding: return "the path holds malformed percent-encoding, a NUL byte or invalid UTF-8"
            case .encodedSeparator: return "the path holds an encoded '/' or a '\\' inside a segment"
            }
        }
    }

    /// - Parameters:
    ///   - rest: the raw (still percent-encoded) path after `/{prefix}/{slug}`, e.g. `/v1/chat/completions`.
    ///   - query: the raw query to send (client query minus credentials, plus an injected key if any).
    public static func build(target: UpstreamTarget, rest: Substring, query: String?, clientPicksVersion: Bool = false) throws(Failure) -> String {
        var url = target.origin + (try buildPath(target: target, rest: rest, clientPicksVersion: clientPicksVersion))
        let queries = [target.baseQuery, query].compactMap { $0 }.filter { !$0.isEmpty }
        if !queries.isEmpty { url += "?" + queries.joined(separator: "&") }
        return url
    }

    /// The request target's path (origin form, no query): the base's segments plus the client's, sanitized.
    /// With `clientPicksVersion` (Gemini, whose SDKs choose `v1` or `v1beta` per call: google-genai 3.x says `v1`),
    /// a version the client's path starts with replaces the one the base ends with, instead of going below it.
    public static func buildPath(target: UpstreamTarget, rest: Substring, clientPicksVersion: Bool = false) throws(Failure) -> String {
        var path = ""
        path.reserveCapacity(target.baseSegments.reduce(0) { $0 + $1.utf8.count + 1 } + rest.utf8.count + 1)
        for segment in target.baseSegments {
            path += "/"
            path += segment
        }
        var appended = 0
        for raw in rest.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            let segment = try sanitizedSegment(Substring(raw))
            if appended == 0, let last = target.baseSegments.last, APIVersionSegment.matches(last), APIVersionSegment.matches(segment) {
                // `.../api/v1` + `v1/chat/completions`: the client's SDK added the version the base already has.
                if last == segment { continue }
                if clientPicksVersion { path.removeLast(last.utf8.count + 1) }
            }
            path += "/"
            path += segment
            appended += 1
        }
        if path.isEmpty { return "/" }
        if rest.utf8.count > 1, rest.utf8.last == UInt8(ascii: "/"), appended > 0 { path += "/" }
        return path
    }

    /// Decodes a segment, refuses the ones that escape on some server, and re-encodes it so a `?` or `#` stays data.
    static func sanitizedSegment(_ raw: Substring) throws(Failure) -> String {
        if raw.utf8.allSatisfy(isPlainSegmentByte) {
            guard !isDotSegment(raw.utf8) else { throw .traversal }
            return String(raw)
        }
        guard let decoded = percentDecode(raw) else { throw .badEncoding }
        try refuseEscapes(decoded)
        return percentEncodeSegment(decoded)
    }

    /// How many times a segment is decoded to look for what a server that decodes again would see.
    private static let decodingRounds = 3

    private static func refuseEscapes(_ decoded: [UInt8]) throws(Failure) {
        var layer = decoded
        for _ in 0..<decodingRounds {
            guard String(validating: layer, as: UTF8.self) != nil, !layer.contains(0) else { throw .badEncoding }
            if layer.contains(UInt8(ascii: "/")) || layer.contains(UInt8(ascii: "\\")) { throw .encodedSeparator }
            if isDotSegment(layer) { throw .traversal }
            // A literal `%` that does not start an escape is data; one that does is what the next decoding would undo.
            guard layer.contains(UInt8(ascii: "%")), let next = percentDecode(Substring(decoding: layer, as: UTF8.self)), next != layer else { return }
            layer = next
        }
    }

    /// `.`, `..`, `...`, and any of them with path parameters (`..;jsessionid=x`, which Tomcat reads as `..`).
    static func isDotSegment(_ bytes: some Collection<UInt8>) -> Bool {
        let beforeParameters = bytes.prefix { $0 != UInt8(ascii: ";") }
        return !beforeParameters.isEmpty && beforeParameters.allSatisfy { $0 == UInt8(ascii: ".") }
    }

    /// Unreserved characters plus sub-delims and `:` `@`, minus `%`: safe in a path segment as they are.
    private static func isPlainSegmentByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"), UInt8(ascii: "$"),
            UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "@"):
            return true
        default:
            return false
        }
    }

    static func percentDecode(_ raw: Substring) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(raw.utf8.count)
        var iterator = raw.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                output.append(high << 4 | low)
            } else {
                output.append(byte)
            }
        }
        return output
    }

    private static func percentEncodeSegment(_ bytes: [UInt8]) -> String {
        String(decoding: QueryString.percentEncode(bytes, keeping: isPlainSegmentByte), as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Query-string surgery on the raw query: drop parameters by name, append an encoded one.
public enum QueryString {
    /// The raw query without parameters whose decoded name is in `names`.
    public static func removing(_ names: Set<String>, from query: String?) -> String? {
        guard let query, !query.isEmpty else { return nil }
        guard !names.isEmpty else { return query }
        let kept = query.split(separator: "&").filter { pair in
            let name = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let decoded = UpstreamURLBuilder.percentDecode(name).map { String(decoding: $0, as: UTF8.self) } ?? String(name)
            return !names.contains(decoded)
        }
        return kept.isEmpty ? nil : kept.joined(separator: "&")
    }

    /// The raw query without parameters whose decoded value is one of `secrets` (compared in constant time).
    public static func removingValues(matchingAnyOf secrets: [String], from query: String?) -> String? {
        guard let query, !query.isEmpty else { return nil }
        guard !secrets.isEmpty else { return query }
        let kept = query.split(separator: "&").filter { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count > 1 else { return true }
            let value = UpstreamURLBuilder.percentDecode(Substring(parts[1].replacingOccurrences(of: "+", with: " ")))
                .map { String(decoding: $0, as: UTF8.self) } ?? String(parts[1])
            return !ConstantTime.matchesAny(value, of: secrets)
        }
        return kept.isEmpty ? nil : kept.joined(separator: "&")
    }

    /// The value of the first parameter with this name, percent-decoded.
    public static func value(of name: String, in query: String?) -> String? {
        guard let query else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.first == Substring(name) else { continue }
            let raw = parts.count > 1 ? parts[1] : ""
            let plusDecoded = raw.replacingOccurrences(of: "+", with: " ")
            return UpstreamURLBuilder.percentDecode(Substring(plusDecoded)).map { String(decoding: $0, as: UTF8.self) }
        }
        return nil
    }

    public static func appending(name: String, value: String, to query: String?) -> String {
        let pair = encodeComponent(name) + "=" + encodeComponent(value)
        guard let query, !query.isEmpty else { return pair }
        return query + "&" + pair
    }

    static func encodeComponent(_ text: String) -> String {
        String(decoding: encodeComponent(bytes: text.utf8), as: UTF8.self)
    }

    /// Percent-encodes every byte but the unreserved ones (RFC 3986), upper-case hex.
    static func encodeComponent(bytes: some Sequence<UInt8>) -> [UInt8] {
        percentEncode(bytes, keeping: isUnreserved)
    }

    /// `%XX` (upper-case hex) for every byte `keeping` does not let through as it is.
    static func percentEncode(_ bytes: some Sequence<UInt8>, keeping: (UInt8) -> Bool) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.underestimatedCount * 3)
        for byte in bytes {
            if keeping(byte) {
                output.append(byte)
            } else {
                output.append(UInt8(ascii: "%"))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            }
        }
        return output
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
