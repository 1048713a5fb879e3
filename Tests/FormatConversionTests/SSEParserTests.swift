import FormatConversion
import RotatorCore
import Testing

@Suite struct SSEParserTests {
    static let stream = Array("event: a\ndata: one\ndata: two\n\n: comment\r\nid: 7\r\ndata: {\"x\":1}\r\n\r\ndata:three\r\revent: b\ndata\n\n".utf8)
    static let expected = [
        SSEEvent(name: "a", data: "one\ntwo"), SSEEvent(name: nil, data: #"{"x":1}"#), SSEEvent(name: nil, data: "three"),
        SSEEvent(name: "b", data: ""),
    ]

    @Test func parsesLFCRLFAndCRFramesInOneChunk() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Self.stream) == Self.expected)
        #expect(parser.finish() == nil)
    }

    @Test func everySplitGivesTheSameEvents() throws {
        for size in [1, 2, 3, 5, 7, 64] {
            var parser = SSEParser()
            var events: [SSEEvent] = []
            var offset = 0
            while offset < Self.stream.count {
                events += try parser.feed(Self.stream[offset..<min(offset + size, Self.stream.count)])
                offset += size
            }
            #expect(events == Self.expected, "chunks of \(size)")
        }
    }

    @Test func anEventIsOutAsSoonAsItsBlankLineArrives() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: hi\n".utf8)).isEmpty)
        #expect(try parser.feed([0x0A]) == [SSEEvent(data: "hi")])
    }

    @Test func aCRAtAChunkEndIsNotCountedTwiceWithTheNextLF() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: a\r".utf8)).isEmpty)
        #expect(try parser.feed(Array("\n".utf8)).isEmpty, "CRLF split across chunks is one line end")
        #expect(try parser.feed(Array("\r\n".utf8)) == [SSEEvent(data: "a")])
    }

    @Test func anUnterminatedLastEventIsDeliveredAtTheEnd() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: tail".utf8)).isEmpty)
        #expect(parser.finish() == SSEEvent(data: "tail"))
    }

    @Test func anEventLargerThanTheLimitFails() throws {
        var parser = SSEParser(limit: 64)
        #expect(throws: SSEParser.Overflow(limit: 64)) {
            _ = try parser.feed(Array(("data: " + String(repeating: "x", count: 100)).utf8))
        }
        var lines = SSEParser(limit: 64)
        #expect(throws: SSEParser.Overflow.self) {
            for _ in 0..<20 { _ = try lines.feed(Array("data: xxxxxx\n".utf8)) }
        }
        var fits = SSEParser(limit: 64)
        for _ in 0..<100 { _ = try fits.feed(Array("data: xxxxxx\n\n".utf8)) }
    }
}

/// A converted stream writes each client event as soon as the upstream event it comes from is complete.
@Suite struct StreamTimelinessTests {
    @Test(arguments: GoldenConversionTests.pairs)
    func theFirstTextIsOutWhenItsUpstreamEventEnds(client: OutputFormat, upstream: APIFormat) throws {
        let pair = try #require(FormatPair(client: client, upstream: upstream))
        let input = try Golden.bytes("streams/\(upstream.rawValue).upstream.sse")
        let text = String(decoding: input, as: UTF8.self)
        let mark = try #require(text.range(of: "Checking "))
        // A CR ends a line on its own: the event is complete at the CR of CRLF CRLF, before the last LF.
        let blankLine = upstream == .geminiNative ? "\r\n\r" : "\n\n"
        let eventEnd = try #require(text.range(of: blankLine, range: mark.upperBound..<text.endIndex))
        let endOffset = text.utf8.distance(from: text.startIndex, to: eventEnd.upperBound)

        var stream = StreamConversion(pair: pair, options: ClientStreamOptions())
        var output: [UInt8] = []
        var firstSeenAt: Int?
        for (offset, byte) in input.enumerated() {
            output += stream.feed([byte])
            if firstSeenAt == nil, String(decoding: output, as: UTF8.self).contains("Checking ") { firstSeenAt = offset + 1 }
        }
        #expect(firstSeenAt == endOffset)
    }
}
