import Foundation
import NIOCore
@testable import RotatorProxy
import Testing

/// A body scrubbed as it streams: a key split across reads at any point is caught, nothing is held back longer than
/// it may be the start of a key, and as many bytes leave as arrived.
@Suite struct StreamingSecretScrubberTests {
    static func run(_ parts: [[UInt8]], scrubber: SecretScrubber) -> (output: [UInt8], heldBackMost: Int) {
        var stream = StreamingSecretScrubber(scrubber)
        var output: [UInt8] = []
        var most = 0
        for part in parts {
            output += Array(stream.feed(ByteBuffer(bytes: part)).readableBytesView)
            most = max(most, stream.heldBack)
        }
        output += Array(stream.finish().readableBytesView)
        return (output, most)
    }

    @Test(arguments: SecretScrubberFormTests.keys)
    func aKeySplitAtEveryPointIsCaught(key: String) {
        let scrubber = SecretScrubber(secret: key)
        for form in SecretScrubberFormTests.forms(of: key) {
            let body = Array("data: {\"echo\":\"\(form.text)\"}\n\n".utf8)
            for split in 0...body.count {
                let (output, most) = Self.run([Array(body[..<split]), Array(body[split...])], scrubber: scrubber)
                let text = String(decoding: output, as: UTF8.self)
                #expect(!text.contains(form.telltale), "\(form.name), split at \(split): \(text)")
                #expect(output.count == body.count, "\(form.name), split at \(split): bytes out equal bytes in")
                #expect(most <= scrubber.longestOccurrence - 1)
            }
        }
    }

    @Test func aKeyArrivingByteByByteIsCaught() {
        let key = SecretScrubberFormTests.keys[0]
        let scrubber = SecretScrubber(secret: key)
        for form in SecretScrubberFormTests.forms(of: key) {
            let body = Array("\(form.text) and again \(form.text).".utf8)
            let (output, _) = Self.run(body.map { [$0] }, scrubber: scrubber)
            #expect(!String(decoding: output, as: UTF8.self).contains(form.telltale), "\(form.name)")
            #expect(output.count == body.count)
        }
    }

    @Test func threePartSplitsAcrossAnEscapedKey() {
        let key = SecretScrubberFormTests.keys[2]
        let scrubber = SecretScrubber(secret: key)
        let escaped = Array(key.utf8).map { String(format: "\\u%04x", $0) }.joined()
        let body = Array("{\"k\":\"\(escaped)\"}".utf8)
        for first in stride(from: 0, through: body.count, by: 3) {
            for second in stride(from: first, through: body.count, by: 5) {
                let parts = [Array(body[..<first]), Array(body[first..<second]), Array(body[second...])]
                let (output, _) = Self.run(parts, scrubber: scrubber)
                #expect(!String(decoding: output, as: UTF8.self).contains(escaped), "splits at \(first), \(second)")
            }
        }
    }

    /// An event stream's parts end in `\n\n`: none can start a key, so nothing waits for the next part.
    @Test func partsThatCannotStartAKeyGoOutWhole() {
        let scrubber = SecretScrubber(secret: SecretScrubberFormTests.keys[0])
        var stream = StreamingSecretScrubber(scrubber)
        let part = ByteBuffer(string: "data: {\"delta\":\"hello\"}\n\n")
        #expect(stream.feed(part) == part)
        #expect(stream.heldBack == 0)
        // A part ending in what may begin the key waits for the next one.
        let cut = stream.feed(ByteBuffer(string: "token sk-pr"))
        #expect(String(buffer: cut) == "token ")
        #expect(stream.heldBack == 5)
        #expect(String(buffer: stream.feed(ByteBuffer(string: "ice list\n"))) == "sk-price list\n")
        #expect(stream.heldBack == 0)
    }
}
