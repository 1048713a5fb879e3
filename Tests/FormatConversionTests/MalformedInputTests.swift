import FormatConversion
import RotatorCore
import Testing

/// Bad client bodies are a 400 in the client's error shape; bad upstream bytes are a 502 or an error event.
/// Nothing crashes.
@Suite struct MalformedInputTests {
    static let bodies: [String] = [
        "", "not json", "[]", "{", #"{"messages": "hi"}"#, #"{"messages": [1]}"#, #"{"messages": [{"role": 5}]}"#,
        #"{"model": 1, "messages": []}"#, #"{"contents": {}}"#, #"{"input": 3}"#, #"{"temperature": "hot", "messages": []}"#,
        String(repeating: "[", count: 5000),
    ]

    @Test(arguments: Golden.clientFormats)
    func malformedClientBodiesAre400InTheClientsShape(client: OutputFormat) throws {
        let pair = try #require(FormatPair(client: client, upstream: .anthropicNative))
        for body in Self.bodies {
            let outcome = RequestConversion(pair: pair).convert(Array(body.utf8), call: Golden.call(for: client), created: 0)
            guard case .reject(let answer) = outcome else {
                Issue.record("\(client) accepted \(body.prefix(40))")
                continue
            }
            #expect(answer.status == 400)
            let error = try JSONParser.parse(answer.body)
            switch client {
            case .anthropic:
                #expect(error["type"]?.string == "error")
                #expect(error["error"]?["type"]?.string == "invalid_request_error")
            case .gemini:
                #expect(error["error"]?["code"]?.int == 400)
                #expect(error["error"]?["status"]?.string == "INVALID_ARGUMENT")
            default:
                #expect(error["error"]?["type"]?.string == "invalid_request_error")
            }
            #expect(error["error"]?["message"]?.string?.isEmpty == false)
        }
    }

    @Test func theMessageSaysWhatIsWrong() throws {
        let pair = try #require(FormatPair(client: .openAI, upstream: .geminiNative))
        guard case .reject(let answer) = RequestConversion(pair: pair).convert(Array(#"{"messages":"hi"}"#.utf8), call: ChatCall(), created: 0) else {
            Issue.record("accepted")
            return
        }
        #expect(try JSONParser.parse(answer.body)["error"]?["message"]?.string == "Invalid request: 'messages' must be an array.")
    }

    @Test func aGeminiUpstreamNeedsAModel() throws {
        let pair = try #require(FormatPair(client: .openAI, upstream: .geminiNative))
        let body = Array(#"{"messages":[{"role":"user","content":"hi"}]}"#.utf8)
        guard case .reject(let answer) = RequestConversion(pair: pair).convert(body, call: ChatCall(), created: 0) else {
            Issue.record("accepted")
            return
        }
        #expect(answer.status == 400)
        guard case .forward(let converted) = RequestConversion(pair: pair, models: ModelMapping(defaultModel: "gemini-2.5-flash"))
            .convert(body, call: ChatCall(), created: 0)
        else {
            Issue.record("rejected with a default model")
            return
        }
        #expect(converted.upstream.path == "/v1beta/models/gemini-2.5-flash:generateContent")
    }

    @Test(arguments: Golden.upstreamFormats)
    func upstreamGarbageIsA502InTheClientsShape(upstream: APIFormat) throws {
        let pair = try #require(FormatPair(client: .anthropic, upstream: upstream))
        for body in ["", "<html>", "{}", #"{"choices": 3}"#] {
            let answer = ResponseConversion(pair: pair).convert(status: 200, body: Array(body.utf8), created: 0)
            #expect(answer.status == 502, "\(upstream) \(body)")
            #expect(try JSONParser.parse(answer.body)["error"]?["type"]?.string == "api_error")
        }
    }

    /// Random bytes into every request decoder and stream converter: answers or errors, never a trap.
    @Test func randomBytesNeverCrash() throws {
        var generator = SplitMix(seed: 7)
        let alphabet = Array(#"{}[]":,0123456789.-+eE truefalsenull\"data: event:\n\r"#.utf8)
        for client in Golden.clientFormats {
            for upstream in Golden.upstreamFormats {
                let pair = try #require(FormatPair(client: client, upstream: upstream))
                for _ in 0..<40 {
                    let length = Int(generator.next() % 200)
                    let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
                    _ = RequestConversion(pair: pair).convert(bytes, call: Golden.call(for: client), created: 0)
                    _ = ResponseConversion(pair: pair).convert(status: 200, body: bytes, created: 0)
                    var stream = StreamConversion(pair: pair, options: ClientStreamOptions(), eventLimit: 128)
                    _ = stream.feed(bytes)
                    _ = stream.finish()
                }
            }
        }
    }

    @Test func aStreamEventPastTheCapEndsTheStreamWithAClearError() throws {
        let pair = try #require(FormatPair(client: .openAI, upstream: .anthropicNative))
        var stream = StreamConversion(pair: pair, options: ClientStreamOptions(), eventLimit: 1024)
        let output = stream.feed(Array(("data: " + String(repeating: "x", count: 4096)).utf8))
        let text = String(decoding: output, as: UTF8.self)
        #expect(stream.endedWithError)
        #expect(text.contains("exceeded 1024 bytes"), "\(text)")
        #expect(stream.feed(Array("data: more\n\n".utf8)).isEmpty)
        #expect(stream.finish().isEmpty, "no [DONE] after an error")
    }

    @Test func aStreamCutBeforeItsEndIsAnErrorNotACompleteAnswer() throws {
        let pair = try #require(FormatPair(client: .anthropic, upstream: .openAICompatible))
        var stream = StreamConversion(pair: pair, options: ClientStreamOptions())
        let chunk = #"data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"# + "\n\n"
        _ = stream.feed(Array(chunk.utf8))
        let end = String(decoding: stream.finish(), as: UTF8.self)
        #expect(end.contains("event: error"))
        #expect(!end.contains("message_stop"))
        #expect(stream.endedWithError)
    }
}

/// A tiny deterministic generator, so a failing input can be reproduced.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
