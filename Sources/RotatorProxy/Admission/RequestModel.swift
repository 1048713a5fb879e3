import NIOCore
import UpstreamProviders

/// The model an upstream request names, as its provider reads it: Gemini's from the path (`/models/{model}:verb`),
/// OpenAI's and Anthropic's from the JSON body's top-level `"model"`. Per-model rests are scoped to it; generic
/// configs name none. Read from the request as sent upstream (after any conversion), never parsed into objects: one
/// pass over the bytes that stops at the top-level `"model"` field.
public enum RequestModel {
    /// Longer names are not remembered (no provider's model name comes near).
    static let maximumLength = 200

    public static func name(dialect: UpstreamDialect, path: String, body: ByteBuffer) -> String? {
        switch dialect.provider.modelPlace {
        case .path: return fromPath(path)
        case .body: return fromBody(body)
        case .none: return nil
        }
    }

    /// The most output tokens the request asks for: the top-level `max_tokens`, `max_completion_tokens` or
    /// `max_output_tokens` (OpenAI, Anthropic, Responses), or Gemini's `generationConfig.maxOutputTokens`; nil when it
    /// names none (a client key's token reservation then uses its default).
    public static func maxOutputTokens(_ body: ByteBuffer) -> Int64? {
        body.withUnsafeReadableBytes { bytes -> Int64? in
            var scanner = TopLevelScanner(bytes: bytes)
            return scanner.largestInteger(ofKeys: maxTokenKeys, nested: (generationConfig, [maxOutputTokens]))
        }
    }

    private static let maxTokenKeys = [Array("max_tokens".utf8), Array("max_completion_tokens".utf8), Array("max_output_tokens".utf8)]
    private static let generationConfig = Array("generationConfig".utf8)
    private static let maxOutputTokens = Array("maxOutputTokens".utf8)

    /// `/v1beta/models/gemini-2.0-flash:generateContent` -> `gemini-2.0-flash`.
    static func fromPath(_ path: String) -> String? {
        guard let range = path.range(of: "/models/") else { return nil }
        let rest = path[range.upperBound...]
        let name = rest.prefix { $0 != ":" && $0 != "/" && $0 != "?" }
        return name.isEmpty || name.utf8.count > maximumLength ? nil : String(name)
    }

    /// The string value of the JSON object's top-level `"model"` key, escapes left as sent (they only need to tell
    /// models apart); nil when the body is not an object or names no model.
    static func fromBody(_ body: ByteBuffer) -> String? {
        body.withUnsafeReadableBytes { bytes -> String? in
            var scanner = TopLevelScanner(bytes: bytes)
            return scanner.stringValue(ofKey: Array("model".utf8))
        }
    }

    private struct TopLevelScanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        mutating func stringValue(ofKey key: [UInt8]) -> String? {
            skipSpaces()
            guard next() == UInt8(ascii: "{") else { return nil }
            while index < bytes.count {
                skipSpaces()
                guard next() == UInt8(ascii: "\"") else { return nil }
                let keyStart = index
                guard skipStringBody() else { return nil }
                let isWanted = index - 1 - keyStart == key.count && zip(bytes[keyStart..<(index - 1)], key).allSatisfy { $0 == $1 }
                skipSpaces()
                guard next() == UInt8(ascii: ":") else { return nil }
                skipSpaces()
                if isWanted {
                    guard next() == UInt8(ascii: "\"") else { return nil }
                    let valueStart = index
                    guard skipStringBody() else { return nil }
                    let length = index - 1 - valueStart
                    guard length > 0, length <= RequestModel.maximumLength else { return nil }
                    return String(decoding: bytes[valueStart..<(index - 1)], as: UTF8.self)
                }
                guard skipValue() else { return nil }
                skipSpaces()
                guard next() == UInt8(ascii: ",") else { return nil }
            }
            return nil
        }

        /// The largest non-negative integer value of these keys in the object that starts here (and, inside the
        /// object value of `nested.key`, of its keys); nil when none holds one.
        mutating func largestInteger(ofKeys keys: [[UInt8]], nested: (key: [UInt8], keys: [[UInt8]])?) -> Int64? {
            var found: Int64?
            skipSpaces()
            guard next() == UInt8(ascii: "{") else { return nil }
            while index < bytes.count {
                skipSpaces()
                guard next() == UInt8(ascii: "\"") else { return found }
                let keyStart = index
                guard skipStringBody() else { return found }
                let name = bytes[keyStart..<(index - 1)]
                skipSpaces()
                guard next() == UInt8(ascii: ":") else { return found }
                skipSpaces()
                var value: Int64?
                if keys.contains(where: { $0.elementsEqual(name) }), let number = integer() {
                    value = number
                } else if let nested, nested.key.elementsEqual(name), index < bytes.count, bytes[index] == UInt8(ascii: "{") {
                    value = largestInteger(ofKeys: nested.keys, nested: nil)
                } else {
                    guard skipValue() else { return found }
                }
                if let value { found = max(found ?? 0, value) }
                skipSpaces()
                guard next() == UInt8(ascii: ",") else { return found }
            }
            return found
        }

        /// A run of digits (at most 18) as a number; nil (nothing read) when none starts here.
        private mutating func integer() -> Int64? {
            var value: Int64 = 0
            var digits = 0
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]), digits < 18 {
                value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                index += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }

        private mutating func next() -> UInt8? {
            guard index < bytes.count else { return nil }
            defer { index += 1 }
            return bytes[index]
        }

        private mutating func skipSpaces() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        /// After an opening quote: to just past the closing one.
        private mutating func skipStringBody() -> Bool {
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    return true
                }
            }
            return false
        }

        /// Any value: strings, and objects and arrays to their matching close (strings inside skipped whole).
        private mutating func skipValue() -> Bool {
            var depth = 0
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    guard skipStringBody() else { return false }
                    if depth == 0 { return true }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return true }
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return true
                    }
                case UInt8(ascii: ","):
                    if depth == 0 { return true }
                default:
                    break
                }
                index += 1
            }
            return depth == 0
        }
    }
}
