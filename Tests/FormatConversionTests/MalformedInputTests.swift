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

    /// Every truncation and many one-byte corruptions of real bodies, into every request decoder, answer decoder
    /// and stream converter: answers or errors, never a trap.
    @Test func truncatedAndCorruptedBodiesNeverCrash() throws {
        let noise = Array(#"{}[]":,0"\n"#.utf8)
        for client in Golden.clientFormats {
            for upstream in Golden.upstreamFormats {
                let pair = try #require(FormatPair(client: client, upstream: upstream))
                let request = try Golden.bytes("requests/\(client.rawValue).client.json")
                let answer = try Golden.bytes("responses/\(upstream.rawValue).upstream.json")
                let stream = try Golden.bytes("streams/\(upstream.rawValue).upstream.sse")
                var variants: [([UInt8], [UInt8], [UInt8])] = []
                for cut in stride(from: 0, to: request.count, by: 97) {
                    variants.append((Array(request.prefix(cut)), Array(answer.prefix(cut)), Array(stream.prefix(cut * 2))))
                }
                for (step, position) in stride(from: 5, to: min(request.count, answer.count), by: 61).enumerated() {
                    var (r, a, s) = (request, answer, stream)
                    let byte = noise[step % noise.count]
                    r[position] = byte
                    a[position] = byte
                    s[position % s.count] = byte
                    variants.append((r, a, s))
                }
                for (r, a, s) in variants {
                    _ = RequestConversion(pair: pair).convert(r, call: Golden.call(for: client), created: 0)
                    _ = ResponseConversion(pair: pair).convert(status: 200, body: a, created: 0)
                    var conversion = StreamConversion(pair: pair, options: ClientStreamOptions(), eventLimit: 4096)
                    _ = conversion.feed(s)
                    _ = conversion.finish()
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
