import FormatConversion
import RotatorCore
import Testing

/// Every client format against every upstream format, for requests, answers and streams.
@Suite struct GoldenConversionTests {
    static let pairs = Golden.clientFormats.flatMap { client in Golden.upstreamFormats.map { (client, $0) } }
    static let created = 1_741_570_000

    @Test(arguments: pairs)
    func requestMatchesGolden(client: OutputFormat, upstream: APIFormat) throws {
        let pair = try #require(FormatPair(client: client, upstream: upstream))
        let body = try Golden.bytes("requests/\(client.rawValue).client.json")
        let outcome = RequestConversion(pair: pair).convert(body, call: Golden.call(for: client), created: Self.created)
        guard case .forward(let converted) = outcome else {
            Issue.record("rejected: \(outcome)")
            return
        }
        let sent = try JSONParser.parse(converted.upstream.body)
        let record: JSONValue = .object(JSONObject([
            ("path", .string(converted.upstream.path)), ("body", sent),
            ("dropped", .array(converted.dropped.items.map(JSONValue.string))),
        ]))
        try Golden.expect(record, matches: "requests/\(client.rawValue)-to-\(upstream.rawValue).json")
        #expect(!converted.upstream.streams)
    }

    @Test(arguments: pairs)
    func responseMatchesGolden(client: OutputFormat, upstream: APIFormat) throws {
        let pair = try #require(FormatPair(client: client, upstream: upstream))
        let body = try Golden.bytes("responses/\(upstream.rawValue).upstream.json")
        let answer = ResponseConversion(pair: pair).convert(status: 200, body: body, created: Self.created)
        #expect(answer.status == 200)
        #expect(answer.usage == TokenUsage(inputTokens: 82, outputTokens: 17))
        let record: JSONValue = .object(JSONObject([
            ("body", try JSONParser.parse(answer.body)), ("dropped", .array(answer.dropped.items.map(JSONValue.string))),
        ]))
        try Golden.expect(record, matches: "responses/\(upstream.rawValue)-to-\(client.rawValue).json")
    }

    @Test(arguments: pairs)
    func streamMatchesGoldenWhateverTheSplit(client: OutputFormat, upstream: APIFormat) throws {
        let pair = try #require(FormatPair(client: client, upstream: upstream))
        let input = try Golden.bytes("streams/\(upstream.rawValue).upstream.sse")
        let options = ClientStreamOptions(includeUsage: true, serverSentEvents: true, created: Self.created)

        var whole = StreamConversion(pair: pair, options: options)
        let wholeOutput = whole.feed(input) + whole.finish()
        #expect(whole.usage == TokenUsage(inputTokens: 82, outputTokens: 17))
        #expect(!whole.endedWithError)

        var byteByByte = StreamConversion(pair: pair, options: options)
        var split: [UInt8] = []
        for byte in input { split += byteByByte.feed([byte]) }
        split += byteByByte.finish()
        #expect(split == wholeOutput, "1-byte chunks must give the same bytes as one chunk")
        #expect(byteByByte.usage == whole.usage)

        try Golden.expect(text: String(decoding: wholeOutput, as: UTF8.self), matches: "streams/\(upstream.rawValue)-to-\(client.rawValue).sse")
    }

    /// What one encoder writes, the same format's decoder reads back: converted requests are valid in the target.
    @Test(arguments: pairs)
    func convertedRequestReadsBackInTheUpstreamFormat(client: OutputFormat, upstream: APIFormat) throws {
        let pair = try #require(FormatPair(client: client, upstream: upstream))
        let body = try Golden.bytes("requests/\(client.rawValue).client.json")
        guard case .forward(let converted) = RequestConversion(pair: pair).convert(body, call: Golden.call(for: client), created: 0) else {
            Issue.record("rejected")
            return
        }
        let back: OutputFormat = switch upstream {
        case .openAICompatible: .openAI
        case .anthropicNative: .anthropic
        case .geminiNative: .gemini
        }
        let reverse = try #require(FormatPair(client: back, upstream: .openAICompatible))
        let outcome = RequestConversion(pair: reverse).convert(converted.upstream.body, call: Golden.call(for: back), created: 0)
        guard case .forward = outcome else {
            Issue.record("\(upstream) cannot read what was written for it: \(outcome)")
            return
        }
    }
}
