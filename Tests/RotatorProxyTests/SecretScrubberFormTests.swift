import Foundation
import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Testing

/// Every way an upstream can write the key back: encoded whole, inside a longer encoded text, escaped byte by byte
/// (all of them, or some), in a header's name. Each form is built here by hand, apart from the scrubber's own code.
@Suite struct SecretScrubberFormTests {
    static let keys = ["sk-proj-Ab12Cd34Ef56Gh78Ij90KlMnOpQrStUv", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "sk-live/Ab+c=9_Zq~x"]

    /// The key's forms that the issue names, each as an upstream would put it in a body or header, with the part of
    /// it that gives the key away (for base64 inside a longer text: the characters that only the key's bits decide).
    static func forms(of key: String) -> [(name: String, text: String, telltale: String)] {
        let bytes = Array(key.utf8)
        var forms: [(String, String, String)] = [("plain", key, key)]
        let prefixes = [("", "alone"), (":", "base64(:key)"), ("user:", "Basic user:key"), ("ab", "offset 2"), ("abc", "offset 3"),
                        ("{\"auth\":\"Bearer ", "inside a longer text")]
        for (prefix, label) in prefixes {
            let encoded = Data(Array(prefix.utf8) + bytes).base64EncodedString()
            let first = (prefix.utf8.count * 8 + 5) / 6
            let end = ((prefix.utf8.count + bytes.count) * 8) / 6
            let run = String(Array(encoded)[first..<end])
            func urlSafe(_ text: String) -> String { text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_") }
            forms.append(("base64 \(label)", encoded, run))
            forms.append(("base64url \(label)", urlSafe(encoded), urlSafe(run)))
        }
        let basic = Data(Array("user:\(key)".utf8)).base64EncodedString()
        forms.append(("Basic header value", "Basic " + basic, String(Array(basic)[7..<((5 + bytes.count) * 8 / 6)])))
        func add(_ name: String, _ text: String) { forms.append((name, text, text)) }
        add("\\u every character, lower hex", bytes.map { String(format: "\\u%04x", $0) }.joined())
        add("\\u every character, upper hex", bytes.map { String(format: "\\u%04X", $0) }.joined())
        add("\\u mixed with plain", bytes.enumerated().map { $0 % 2 == 0 ? String(format: "\\u%04x", $1) : String(UnicodeScalar($1)) }.joined())
        add("% every byte, upper hex", bytes.map { String(format: "%%%02X", $0) }.joined())
        add("% every byte, lower hex", bytes.map { String(format: "%%%02x", $0) }.joined())
        add("% mixed case and plain", bytes.enumerated().map { index, byte in
            index % 3 == 0 ? String(UnicodeScalar(byte)) : String(format: index % 3 == 1 ? "%%%02x" : "%%%02X", byte)
        }.joined())
        add("JSON \\/", key.replacingOccurrences(of: "/", with: "\\/"))
        return forms
    }

    @Test(arguments: keys)
    func everyFormIsScrubbed(key: String) {
        let scrubber = SecretScrubber(secret: key)
        for form in Self.forms(of: key) {
            let body = "{\"error\":\"bad request to https://x/?q=\(form.text)&n=1\"}"
            let scrubbed = scrubber.scrub(body)
            #expect(body.contains(form.telltale), "\(form.name): the test's own telltale")
            #expect(!scrubbed.contains(form.telltale), "\(form.name) passed: \(scrubbed)")
            #expect(scrubbed.utf8.count == body.utf8.count, "\(form.name): the length changed")
            #expect(scrubbed.hasPrefix("{\"error\":\"bad request to https://x/?q="), "\(form.name): the text around it is kept")
            #expect(scrubbed.hasSuffix("&n=1\"}"), "\(form.name): the text around it is kept: \(scrubbed)")
            #expect(scrubber.contains(body), "\(form.name) is seen")
        }
    }

    @Test func aHeaderWhoseNameHoldsTheKeyIsDropped() {
        let key = Self.keys[0]
        let scrubber = SecretScrubber(secret: key)
        let headers = HTTPHeaders([("X-Echo-\(key)", "1"), ("Content-Type", "application/json"), ("X-Note", "uses \(key)")])
        let scrubbed = HeaderPolicy.clientHeaders(from: headers, keepContentLength: false, scrubbing: scrubber)
        #expect(!scrubbed.contains { $0.name.contains(key) || $0.value.contains(key) }, "\(scrubbed)")
        #expect(scrubbed.first(name: "content-type") == "application/json")
        #expect(scrubbed.first(name: "x-note") == "uses REDACTED" + String(repeating: "*", count: key.utf8.count - 8))
        #expect(!scrubber.scrub(headers).contains { $0.name.contains(key) })
    }

    @Test func textWithoutTheKeyIsUntouched() {
        let scrubber = SecretScrubber(secret: Self.keys[0])
        let text = #"{"id":"chatcmpl-1","choices":[{"message":{"content":"sk-proj- is how keys start; \u0073k is s and k; 100% sure"}}]}"#
        #expect(scrubber.scrub(text) == text)
        #expect(!scrubber.contains(text))
    }

    /// Measured, not asserted: what scanning costs per MB of text that holds no key (a benchmark prints, a test
    /// does not time).
    @Test func scanningCostPerMegabyte() {
        let scrubber = SecretScrubber(secret: Self.keys[0])
        let sample = Array(#"{"object":"embedding","index":3,"embedding":[0.0123,-0.0456,0.0789],"text":"sk and %41 and \u0041 and AIza"},"#.utf8)
        var bytes: [UInt8] = []
        while bytes.count < 8 << 20 { bytes += sample }
        let buffer = ByteBuffer(bytes: bytes)
        let clock = ContinuousClock()
        let elapsed = clock.measure { #expect(!scrubber.contains(buffer)) }
        let perMB = (Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3) / 8
        print("scrubber scan: \(String(format: "%.2f", perMB)) ms per MB (debug build)")
    }
}
