import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import Synchronization

/// Removes the injected upstream key from whatever goes back to the client: every response header (`Location`,
/// `Content-Location`, `Link`, any other: an upstream redirect that keeps the query would hand the key over; a header
/// whose name holds the key is dropped) and answer bodies (some upstreams echo the credential or the URL).
///
/// What it finds, in any mix inside one occurrence:
/// - the key itself, and base64 of it (standard and URL-safe alphabets, at each of the three alignments the key can
///   have inside a longer base64 text, so `Basic base64(user:key)` and `base64(:key)` are caught as well as the key
///   encoded alone);
/// - any of their bytes percent-encoded (`%73`, upper-, lower- or mixed-case hex: query values and paths, every byte
///   or only the reserved ones) or JSON-escaped (`\u0073` in any case of hex, `\/`).
/// Each occurrence is replaced by as many bytes (`REDACTED***…`), so a `Content-Length` stays true.
public struct SecretScrubber: Sendable {
    /// What stands where the key stood (cut or padded with `*` to the occurrence's length).
    public static let replacement = "REDACTED"

    /// The byte sequences looked for (the key and its base64 runs), longest first; each byte may appear escaped.
    private let patterns: [[UInt8]]
    /// The same, back to back in one array (`patternRanges` cut it): the hot loop reads them without reference counting.
    private let patternBytes: [UInt8]
    private let patternRanges: [Range<Int>]
    /// The distinct bytes an occurrence can start with: each pattern's first byte, `%` and `\`; and as a bit set.
    private let startBytes: [UInt8]
    private let startMask: (UInt64, UInt64, UInt64, UInt64)
    /// The most bytes one occurrence can take on the wire (every byte written as a 6-byte `\u00XX`).
    public let longestOccurrence: Int

    /// Base64 runs shorter than this are left alone: too short to be the key, common enough to mangle text.
    static let shortestBase64Run = 8

    public init(secret: String) {
        let raw = Array(secret.utf8)
        guard !raw.isEmpty else {
            patterns = []
            patternBytes = []
            patternRanges = []
            startBytes = []
            startMask = (0, 0, 0, 0)
            longestOccurrence = 0
            return
        }
        var unique: [[UInt8]] = [raw]
        for run in Self.base64Runs(of: raw) where run.count >= Self.shortestBase64Run && !unique.contains(run) {
            unique.append(run)
        }
        patterns = unique.sorted { $0.count > $1.count }
        var ranges: [Range<Int>] = []
        var bytes: [UInt8] = []
        for pattern in patterns {
            ranges.append(bytes.count..<(bytes.count + pattern.count))
            bytes += pattern
        }
        patternBytes = bytes
        patternRanges = ranges
        var starts: [UInt8] = [UInt8(ascii: "%"), UInt8(ascii: "\\")]
        for pattern in patterns where !starts.contains(pattern[0]) { starts.append(pattern[0]) }
        startBytes = starts
        var mask: [UInt64] = [0, 0, 0, 0]
        for byte in starts { mask[Int(byte >> 6)] |= 1 << UInt64(byte & 63) }
        startMask = (mask[0], mask[1], mask[2], mask[3])
        longestOccurrence = (patterns.first?.count ?? 0) * 6
    }

    public func scrub(_ text: String) -> String {
        guard !patterns.isEmpty, contains(text) else { return text }
        var bytes = Array(text.utf8)
        let changed = bytes.withUnsafeMutableBufferPointer { redact(in: $0) }
        return changed ? String(decoding: bytes, as: UTF8.self) : text
    }

    public func scrub(_ body: ByteBuffer) -> ByteBuffer {
        guard !patterns.isEmpty else { return body }
        // One pass when there is nothing to scrub (the common case); the copy starts at the first occurrence's scan.
        let first = body.withUnsafeReadableBytes { raw -> Range<Int>? in
            if case .occurrence(let range) = find(in: raw.bindMemory(to: UInt8.self), from: 0, final: true) { return range }
            return nil
        }
        guard let first else { return body }
        var copy = ByteBuffer(bytes: body.readableBytesView)
        copy.withUnsafeMutableReadableBytes { raw in _ = redact(in: raw.bindMemory(to: UInt8.self), first: first) }
        return copy
    }

    /// Every header whose value holds the key, scrubbed; every header whose name holds it, dropped.
    public func scrub(_ headers: HTTPHeaders) -> HTTPHeaders {
        guard !patterns.isEmpty, headers.contains(where: { contains($0.name) || contains($0.value) }) else { return headers }
        var scrubbed = HTTPHeaders()
        for (name, value) in headers where !contains(name) {
            scrubbed.add(name: name, value: scrub(value))
        }
        return scrubbed
    }

    public func scrub(_ fields: HTTPFields) -> HTTPFields {
        guard !patterns.isEmpty, fields.contains(where: { contains($0.name.rawName) || contains($0.value) }) else { return fields }
        var scrubbed = HTTPFields()
        for field in fields where !contains(field.name.rawName) {
            scrubbed.append(HTTPField(name: field.name, value: scrub(field.value)))
        }
        return scrubbed
    }

    /// Whether any form of the key occurs in `text` (read in place: most header values are native UTF-8 strings).
    public func contains(_ text: String) -> Bool {
        guard !patterns.isEmpty else { return false }
        return text.utf8.withContiguousStorageIfAvailable { occurs(in: $0) } ?? Array(text.utf8).withUnsafeBufferPointer { occurs(in: $0) }
    }

    public func contains(_ body: ByteBuffer) -> Bool {
        guard !patterns.isEmpty else { return false }
        return body.withUnsafeReadableBytes { raw in occurs(in: raw.bindMemory(to: UInt8.self)) }
    }

    private func occurs(in haystack: UnsafeBufferPointer<UInt8>) -> Bool {
        if case .occurrence = find(in: haystack, from: 0, final: true) { return true }
        return false
    }

    // MARK: Matching

    enum Found: Equatable {
        case occurrence(Range<Int>)
        /// The bytes from here to the end may be the start of an occurrence the next bytes complete.
        case incomplete(at: Int)
        case none
    }

    /// The first occurrence at or after `start`. With `final` false, an occurrence cut by the end of the bytes is
    /// reported as `.incomplete` (a stream holds those bytes back until the next part arrives).
    ///
    /// Candidates are found with `memchr`, one running search per distinct start byte (a handful): most text holds
    /// few of them, so the bytes between are skipped at memchr's speed instead of looked at one by one.
    func find(in haystack: UnsafeBufferPointer<UInt8>, from start: Int, final: Bool) -> Found {
        let count = haystack.count
        guard !patterns.isEmpty, start < count, let base = haystack.baseAddress else { return .none }
        func next(_ byte: UInt8, after position: Int) -> Int {
            guard position < count, let hit = memchr(base + position, Int32(byte), count - position) else { return count }
            return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
        }
        // A short text (a header) is looked at byte by byte: cheaper than starting a search per start byte.
        let short = count - start <= 256
        var upcoming = short ? [] : startBytes.map { next($0, after: start) }
        var scanned = start
        return patternBytes.withUnsafeBufferPointer { all in
            patternRanges.withUnsafeBufferPointer { ranges in
                while true {
                    var nearest = 0
                    let index: Int
                    if short {
                        while scanned < count, !isStartByte(haystack[scanned]) { scanned += 1 }
                        index = scanned
                        scanned += 1
                    } else {
                        for slot in 1..<upcoming.count where upcoming[slot] < upcoming[nearest] { nearest = slot }
                        index = upcoming[nearest]
                    }
                    guard index < count else { return .none }
                    let byte = haystack[index]
                    let escaped = byte == UInt8(ascii: "%") || byte == UInt8(ascii: "\\")
                    var cut = false
                    for range in ranges where escaped || all[range.lowerBound] == byte {
                        switch Self.match(UnsafeBufferPointer(rebasing: all[range]), in: haystack, at: index) {
                        case .matched(let end): return .occurrence(index..<end)
                        case .cut: cut = true
                        case .mismatch: break
                        }
                    }
                    if cut, !final { return .incomplete(at: index) }
                    if !short { upcoming[nearest] = next(startBytes[nearest], after: index + 1) }
                }
            }
        }
    }

    private func isStartByte(_ byte: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(byte & 63)
        switch byte >> 6 {
        case 0: return startMask.0 & bit != 0
        case 1: return startMask.1 & bit != 0
        case 2: return startMask.2 & bit != 0
        default: return startMask.3 & bit != 0
        }
    }

    private enum Match {
        case matched(end: Int)
        /// The bytes ended inside what could still be an occurrence.
        case cut
        case mismatch
    }

    /// Whether `pattern` starts at `start`, each of its bytes either as itself, `%XX` or a JSON escape.
    private static func match(_ pattern: UnsafeBufferPointer<UInt8>, in haystack: UnsafeBufferPointer<UInt8>, at start: Int) -> Match {
        var index = start
        let count = haystack.count
        for expected in pattern {
            guard index < count else { return .cut }
            let byte = haystack[index]
            if byte == expected {
                index += 1
            } else if byte == UInt8(ascii: "%") {
                guard index + 2 < count else { return Self.prefixMatches(haystack, from: index, expecting: expected, escape: .percent) ? .cut : .mismatch }
                guard let high = hexValue(haystack[index + 1]), let low = hexValue(haystack[index + 2]), high << 4 | low == expected else {
                    return .mismatch
                }
                index += 3
            } else if byte == UInt8(ascii: "\\") {
                guard index + 1 < count else { return .cut }
                let next = haystack[index + 1]
                if next == UInt8(ascii: "u") {
                    guard index + 5 < count else { return Self.prefixMatches(haystack, from: index, expecting: expected, escape: .unicode) ? .cut : .mismatch }
                    guard let a = hexValue(haystack[index + 2]), let b = hexValue(haystack[index + 3]), let c = hexValue(haystack[index + 4]),
                        let d = hexValue(haystack[index + 5]), UInt16(a) << 12 | UInt16(b) << 8 | UInt16(c) << 4 | UInt16(d) == UInt16(expected)
                    else { return .mismatch }
                    index += 6
                } else if next == expected, expected == UInt8(ascii: "/") || expected == UInt8(ascii: "\\") {
                    index += 2
                } else {
                    return .mismatch
                }
            } else {
                return .mismatch
            }
        }
        return .matched(end: index)
    }

    private enum Escape {
        case percent
        case unicode
    }

    /// Whether the escape cut off by the end of the bytes could still spell `expected`.
    private static func prefixMatches(_ haystack: UnsafeBufferPointer<UInt8>, from index: Int, expecting expected: UInt8, escape: Escape) -> Bool {
        let full: [UInt8]
        let hex = Array("0123456789abcdef".utf8)
        switch escape {
        case .percent: full = [UInt8(ascii: "%"), hex[Int(expected >> 4)], hex[Int(expected & 0x0F)]]
        case .unicode: full = Array("\\u00".utf8) + [hex[Int(expected >> 4)], hex[Int(expected & 0x0F)]]
        }
        var offset = 0
        while index + offset < haystack.count {
            let byte = haystack[index + offset]
            let want = full[offset]
            if byte != want, lowercasedHexLetter(byte) != want { return false }
            offset += 1
        }
        return true
    }

    /// Replaces every occurrence in place, each by as many bytes (`first`, when known, is the first one). True when
    /// there was one.
    private func redact(in bytes: UnsafeMutableBufferPointer<UInt8>, first: Range<Int>? = nil) -> Bool {
        var changed = false
        var found = first.map(Found.occurrence) ?? find(in: UnsafeBufferPointer(bytes), from: 0, final: true)
        while case .occurrence(let range) = found {
            Self.fillReplacement(bytes, range)
            changed = true
            found = find(in: UnsafeBufferPointer(bytes), from: range.upperBound, final: true)
        }
        return changed
    }

    private static let replacementBytes = Array(replacement.utf8)

    /// `REDACTED` then `*` up to the occurrence's length (`*` alone when it is shorter than `REDACTED`).
    static func fillReplacement(_ bytes: UnsafeMutableBufferPointer<UInt8>, _ range: Range<Int>) {
        let long = range.count >= replacementBytes.count
        for (offset, index) in range.enumerated() {
            bytes[index] = long && offset < replacementBytes.count ? replacementBytes[offset] : UInt8(ascii: "*")
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func lowercasedHexLetter(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte) ? byte + 32 : byte
    }

    // MARK: One per key

    /// Scrubbers already built, by key: building one (the base64 runs) costs more than relaying a small request.
    /// Bounded: emptied when it reaches `cacheLimit` keys (a node with more keys than that rebuilds some).
    private static let cache = Mutex<[String: SecretScrubber]>([:])
    static let cacheLimit = 20_000

    /// The scrubber for `secret`, built once.
    public static func cached(secret: String) -> SecretScrubber {
        if let known = cache.withLock({ $0[secret] }) { return known }
        let made = SecretScrubber(secret: secret)
        cache.withLock { scrubbers in
            if scrubbers.count >= cacheLimit { scrubbers.removeAll(keepingCapacity: true) }
            scrubbers[secret] = made
        }
        return made
    }
}
