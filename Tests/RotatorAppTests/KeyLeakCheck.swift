import Foundation
import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Testing

/// One assertion for every leak test: no form of any of the keys in any byte or header of an answer. The forms are
/// built here, apart from the scrubber's code: the key, base64 of it (standard and URL-safe, the characters only its
/// bits decide at each of the three alignments, so `Basic user:key` and any longer encoded text count), every byte
/// `\u`-escaped or %-encoded, or only its reserved bytes %-encoded (each in lower and upper hex), and JSON's `\/`. A gzip
/// or deflate body is decoded first, as the client would read it.
enum KeyLeakCheck {
    static func forms(of key: String) -> [String] {
        let bytes = Array(key.utf8)
        var forms = [key, key.replacingOccurrences(of: "/", with: "\\/")]
        for prefixLength in 0..<3 {
            let encoded = Array(Data(Array(repeating: UInt8(ascii: "a"), count: prefixLength) + bytes).base64EncodedString())
            let run = String(encoded[((prefixLength * 8 + 5) / 6)..<(((prefixLength + bytes.count) * 8) / 6)])
            forms.append(run)
            forms.append(run.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))
        }
        forms.append(bytes.map { String(format: "\\u%04x", $0) }.joined())
        forms.append(bytes.map { String(format: "\\u%04X", $0) }.joined())
        forms.append(bytes.map { String(format: "%%%02x", $0) }.joined())
        forms.append(bytes.map { String(format: "%%%02X", $0) }.joined())
        // As a query value carries it: only the bytes outside RFC 3986's unreserved set encoded.
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        for format in ["%%%02X", "%%%02x"] {
            forms.append(bytes.map { unreserved.contains($0) ? String(UnicodeScalar($0)) : String(format: format, $0) }.joined())
        }
        return forms
    }

    /// The body as the client reads it: decoded when the answer says it is compressed.
    static func readableBody(_ reply: TestNode.Reply) throws -> String {
        let encoding = reply.headers.first(name: "content-encoding")?.lowercased() ?? "identity"
        guard encoding == "gzip" || encoding == "deflate" else { return reply.text }
        let inflater = try BodyInflater()
        let decoded = try inflater.inflate(reply.body)
        return String(buffer: decoded)
    }

    static func expectNoKey(in reply: TestNode.Reply, keys: [String], _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let body = try readableBody(reply)
        let headers = reply.headers.map { "\($0.name): \($0.value)" }
        for key in keys {
            for form in forms(of: key) {
                #expect(!body.contains(form), "\(context): a form of the key in the body (\(form.prefix(24))…): \(body.prefix(600))",
                        sourceLocation: sourceLocation)
                #expect(!headers.contains { $0.contains(form) }, "\(context): a form of the key in a header: \(headers)", sourceLocation: sourceLocation)
            }
        }
    }
}
