/// The human part of a provider's error answer, safe to show: the first JSON `"message"` string (OpenAI,
/// Anthropic and Gemini all put it there), with the key and anything that looks like a credential replaced,
/// cut to a short line. A byte scan, not a JSON parser: it runs on the proxy's rejection path.
public enum ProviderMessage {
    public static let maximumLength = 200

    public static func extract(from body: some Collection<UInt8>, secret: String?) -> String? {
        guard let raw = firstMessageString(Array(body.prefix(64 * 1024))) else { return nil }
        let scrubbed = scrub(raw, secret: secret)
        return scrubbed.isEmpty ? nil : scrubbed
    }

    /// Removes `secret`, then every run of 20 or more key-like characters (letters, digits, `-`, `_`, `.`),
    /// control characters, and cuts the text to `maximumLength` characters.
    public static func scrub(_ text: String, secret: String?) -> String {
        var text = text
        if let secret, secret.count >= 4 { text = text.replacing(secret, with: "[key]") }
        var result = ""
        var run = ""
        func flush() {
            result += run.count >= 20 ? "[redacted]" : run
            run = ""
        }
        for character in text {
            if character.isLetter && character.isASCII || character.isNumber && character.isASCII || "-_.".contains(character) {
                run.append(character)
                continue
            }
            flush()
            if character.isNewline || character.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                result.append(" ")
            } else {
                result.append(character)
            }
        }
        flush()
        let trimmed = result.trimmingSpaces()
        return trimmed.count > maximumLength ? String(trimmed.prefix(maximumLength - 1)) + "…" : trimmed
    }

    private static let needle = Array(#""message""#.utf8)

    /// The decoded value of the first `"message": "..."` pair, or nil.
    static func firstMessageString(_ bytes: [UInt8]) -> String? {
        var index = 0
        while let start = find(needle, in: bytes, from: index) {
            var cursor = start + needle.count
            while cursor < bytes.count, bytes[cursor] == 0x20 || bytes[cursor] == 0x0A || bytes[cursor] == 0x0D || bytes[cursor] == 0x09 { cursor += 1 }
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: ":") else { index = start + 1; continue }
            cursor += 1
            while cursor < bytes.count, bytes[cursor] == 0x20 || bytes[cursor] == 0x0A || bytes[cursor] == 0x0D || bytes[cursor] == 0x09 { cursor += 1 }
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "\"") else { index = start + 1; continue }
            return decodeString(bytes, from: cursor + 1)
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        for offset in start...(bytes.count - needle.count) where bytes[offset] == needle[0] {
            if bytes[offset..<(offset + needle.count)].elementsEqual(needle) { return offset }
        }
        return nil
    }

    /// A JSON string body up to its closing quote; escapes decoded, `\u` included (surrogate pairs joined).
    private static func decodeString(_ bytes: [UInt8], from start: Int) -> String? {
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        func flushUTF8() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
                utf8.removeAll()
            }
        }
        var cursor = start
        var pendingHigh: UInt32?
        while cursor < bytes.count {
            let byte = bytes[cursor]
            if byte == UInt8(ascii: "\"") {
                flushUTF8()
                return String(scalars)
            }
            if byte != UInt8(ascii: "\\") {
                utf8.append(byte)
                cursor += 1
                continue
            }
            flushUTF8()
            guard cursor + 1 < bytes.count else { return nil }
            let escape = bytes[cursor + 1]
            cursor += 2
            switch escape {
            case UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): scalars.append(" ")
            case UInt8(ascii: "u"):
                guard cursor + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[cursor..<(cursor + 4)], as: UTF8.self), radix: 16) else {
                    return nil
                }
                cursor += 4
                if (0xD800..<0xDC00).contains(value) {
                    pendingHigh = value
                } else if (0xDC00..<0xE000).contains(value), let high = pendingHigh {
                    pendingHigh = nil
                    if let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00)) { scalars.append(scalar) }
                } else if let scalar = Unicode.Scalar(value) {
                    scalars.append(scalar)
                }
            default:
                scalars.append(Unicode.Scalar(escape))
            }
        }
        return nil
    }
}

extension String {
    func trimmingSpaces() -> String {
        var view = Substring(self)
        while view.first == " " { view.removeFirst() }
        while view.last == " " { view.removeLast() }
        return String(view)
    }
}
