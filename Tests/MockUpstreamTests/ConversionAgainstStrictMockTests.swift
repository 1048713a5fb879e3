import AsyncHTTPClient
import FormatConversion
import Foundation
import MockUpstream
import RotatorCore
import Testing

/// Every client format's request, converted for every upstream format, is accepted by the strict mock in that
/// upstream's dialect, and the mock's answer (plain and streamed, text and tool call) converts back cleanly.
/// The golden files say the shapes are right; this says a provider-strict server takes them.
@Suite("Converted requests against the strict mock")
struct ConversionAgainstStrictMockTests {
    static let pairs: [(OutputFormat, APIFormat)] = [OutputFormat.openAI, .openAIResponses, .anthropic, .gemini].flatMap { client in
        [APIFormat.openAICompatible, .anthropicNative, .geminiNative].map { (client, $0) }
    }

    static let clientBodies: [OutputFormat: (plain: String, tools: String)] = [
        .openAI: (
            #"{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":50,"stream_options":{"include_usage":true}}"#,
            #"{"model":"gpt-4o","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}]}"#
        ),
        .openAIResponses: (
            #"{"model":"gpt-4o","instructions":"Be brief.","input":"hi","max_output_tokens":50}"#,
            #"{"model":"gpt-4o","input":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]}"#
        ),
        .anthropic: (
            #"{"model":"claude-sonnet-4-5","max_tokens":50,"system":"Be brief.","messages":[{"role":"user","content":"hi"}]}"#,
            #"{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":"weather?"}],"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]}"#
        ),
        .gemini: (
            #"{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
            #"{"contents":[{"role":"user","parts":[{"text":"weather?"}]}],"tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}},"required":["city"]}}]}]}"#
        ),
    ]

    @Test(arguments: pairs)
    func convertedRequestsAreAcceptedAndAnswersConvertBack(client: OutputFormat, upstream: APIFormat) async throws {
        let pair = try #require(FormatPair(client: client, upstream: upstream))
        let bodies = try #require(Self.clientBodies[client])
        try await MockUpstreamFixture.run { mock in
            for (body, expectsToolCall) in [(bodies.plain, false), (bodies.tools, true)] {
                for streams in [false, true] {
                    let call = client == .gemini ? ChatCall(pathModel: "gemini-2.5-flash", pathStreams: streams) : ChatCall()
                    var clientBody = body
                    if streams, client != .gemini { clientBody = String(body.dropLast()) + #","stream":true}"# }
                    guard case .forward(let converted) = RequestConversion(pair: pair).convert(Array(clientBody.utf8), call: call, created: 0) else {
                        Issue.record("\(client) -> \(upstream): the client body was refused")
                        continue
                    }
                    let headers = Self.credential(upstream) + converted.upstream.headers.map { ($0.key, $0.value) }
                    let answer = try await mock.send("POST", converted.upstream.path, headers: headers, body: String(decoding: converted.upstream.body, as: UTF8.self))
                    #expect(answer.status == 200, "\(client) -> \(upstream) streams \(streams): \(answer.body)")
                    let output: String
                    if streams {
                        var stream = StreamConversion(pair: pair, options: converted.streamOptions)
                        var bytes: [UInt8] = []
                        for byte in Array(answer.body.utf8) { bytes += stream.feed([byte]) }
                        bytes += stream.finish()
                        #expect(!stream.endedWithError, "\(client) <- \(upstream): \(String(decoding: bytes, as: UTF8.self))")
                        #expect(stream.usage != nil)
                        output = String(decoding: bytes, as: UTF8.self)
                    } else {
                        let converted = ResponseConversion(pair: pair).convert(status: answer.status, body: Array(answer.body.utf8), created: 0)
                        #expect(converted.status == 200)
                        #expect(converted.usage != nil)
                        output = String(decoding: converted.body, as: UTF8.self)
                    }
                    #expect(output.contains("get_weather") == expectsToolCall, "\(client) <- \(upstream) streams \(streams): \(output)")
                    #expect(output.contains("served by key") == !expectsToolCall, "\(output)")
                }
            }
        }
    }

    static func credential(_ format: APIFormat) -> [(String, String)] {
        switch format {
        case .openAICompatible: [("Authorization", "Bearer sk-convert-0001")]
        case .anthropicNative: [("x-api-key", "sk-convert-0002")]
        case .geminiNative: [("x-goog-api-key", "sk-convert-0003")]
        }
    }
}
