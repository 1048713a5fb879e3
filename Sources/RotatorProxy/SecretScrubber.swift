import HTTPTypes
import NIOCore
import NIOHTTP1

/// Removes the injected upstream key from whatever goes back to the client: every response header (`Location`,
/// `Content-Location`, `Link`, any other: an upstream redirect that keeps the query would hand the key over) and
/// error bodies (some upstreams echo the credential or the URL). The key is matched raw, percent-encoded (upper- and
/// lower-case hex, as a query value or a path would carry it) and JSON-escaped (`\/`).
public struct SecretScrubber: Sendable {
    /// What stands where the key stood.
    public static let replacement = "REDACTED"

    /// The byte forms of the key, longest first, so an encoded form is replaced whole before the raw one inside it.
    private let forms: [[UInt8]]

    public init(secret: String) {
        let raw = Array(secret.utf8)
        // Most keys are letters, digits, `-` and `_`: every other form is the same bytes (one search, not four).
        if raw.allSatisfy(QueryString.isUnreserved) {
            forms = raw.isEmpty ? [] : [raw]
            return
        }
        let encoded = QueryString.encodeComponent(bytes: raw)
        let candidates = [raw, encoded, Self.lowercasingHex(encoded), Self.escapingSlashes(raw)]
        var unique: [[UInt8]] = []
        for candidate in candidates where !unique.contains(candidate) {
            unique.append(candidate)
        }
        forms = unique.sorted { $0.count > $1.count }
    }

    public func scrub(_ text: String) -> String {
        guard !forms.isEmpty, contains(text) else { return text }
        guard let scrubbed = replacing(in: Array(text.utf8)) else { return text }
        return String(decoding: scrubbed, as: UTF8.self)
    }

    public func scrub(_ body: ByteBuffer) -> ByteBuffer {
        guard !forms.isEmpty, contains(body), let scrubbed = replacing(in: Array(body.readableBytesView)) else { return body }
        return ByteBuffer(bytes: scrubbed)
    }

    public func scrub(_ headers: HTTPHeaders) -> HTTPHeaders {
        guard !forms.isEmpty, headers.contains(where: { contains($0.value) }) else { return headers }
        var scrubbed = HTTPHeaders()
        for (name, value) in headers {
            scrubbed.add(name: name, value: scrub(value))
        }
        return scrubbed
    }

    public func scrub(_ fields: HTTPFields) -> HTTPFields {
        guard !forms.isEmpty, fields.contains(where: { contains($0.value) }) else { return fields }
        var scrubbed = HTTPFields()
        for field in fields {
            scrubbed.append(HTTPField(name: field.name, value: scrub(field.value)))
        }
        return scrubbed
    }

    /// Whether any form of the key occurs in `text` (read in place: most header values are native UTF-8 strings).
    public func contains(_ text: String) -> Bool {
        text.utf8.withContiguousStorageIfAvailable(containsAnyForm) ?? containsAnyForm(Array(text.utf8))
    }

    public func contains(_ body: ByteBuffer) -> Bool {
        body.withUnsafeReadableBytes { raw in containsAnyForm(raw.bindMemory(to: UInt8.self)) }
    }

    private func containsAnyForm<Haystack: RandomAccessCollection<UInt8>>(_ haystack: Haystack) -> Bool where Haystack.Index == Int {
        forms.contains { firstIndex(of: $0, in: haystack, from: 0) != nil }
    }

    /// The bytes with every form replaced, or nil when none occurs.
    private func replacing(in bytes: [UInt8]) -> [UInt8]? {
        var current = bytes
        var changed = false
        let replacement = Array(Self.replacement.utf8)
        for form in forms {
            guard var hit = firstIndex(of: form, in: current, from: 0) else { continue }
            changed = true
            var output: [UInt8] = []
            output.reserveCapacity(current.count)
            var start = 0
            while true {
                output.append(contentsOf: current[start..<hit])
                output.append(contentsOf: replacement)
                start = hit + form.count
                guard let next = firstIndex(of: form, in: current, from: start) else { break }
                hit = next
            }
            output.append(contentsOf: current[start...])
            current = output
        }
        return changed ? current : nil
    }

    private func firstIndex<Haystack: RandomAccessCollection<UInt8>>(of needle: [UInt8], in haystack: Haystack, from start: Int) -> Int?
    where Haystack.Index == Int {
        guard !needle.isEmpty, haystack.count - start >= needle.count else { return nil }
        let first = needle[0]
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    /// `%2F` -> `%2f`: servers and clients write percent-escapes in either case.
    private static func lowercasingHex(_ encoded: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(encoded.count)
        var remainingHex = 0
        for byte in encoded {
            if byte == UInt8(ascii: "%") {
                remainingHex = 2
                output.append(byte)
            } else if remainingHex > 0 {
                remainingHex -= 1
                output.append((UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte) ? byte + 32 : byte)
            } else {
                output.append(byte)
            }
        }
        return output
    }

    /// `/` -> `\/`, as JSON encoders may write it.
    private static func escapingSlashes(_ raw: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count + 4)
        for byte in raw {
            if byte == UInt8(ascii: "/") { output.append(UInt8(ascii: "\\")) }
            output.append(byte)
        }
        return output
    }
}
