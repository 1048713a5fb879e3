import Foundation
import MockUpstream
import Testing

/// One dialect's pass-through call, whole and streamed, against the strict mock (which reports usage in each).
struct PassThroughCall: Sendable, CustomTestStringConvertible {
    var format: String
    var path: String
    var streamPath: String
    var body: String
    var streamBody: String
    var headers: [(String, String)]
    var testDescription: String { "\(format) \(path)" }

    static let all: [PassThroughCall] = [
        PassThroughCall(
            format: "openai_compatible", path: "/v1/chat/completions", streamPath: "/v1/chat/completions",
            body: #"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#,
            streamBody: #"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
            headers: [("Authorization", "Bearer \(TestNode.proxyKey)")]),
        PassThroughCall(
            format: "openai_compatible", path: "/v1/responses", streamPath: "/v1/responses",
            body: #"{"model":"gpt-4o","input":"hi"}"#, streamBody: #"{"model":"gpt-4o","input":"hi","stream":true}"#,
            headers: [("Authorization", "Bearer \(TestNode.proxyKey)")]),
        PassThroughCall(
            format: "anthropic_native", path: "/v1/messages", streamPath: "/v1/messages",
            body: #"{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#,
            streamBody: #"{"model":"claude-sonnet-4-5","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
            headers: [("x-api-key", TestNode.proxyKey), ("anthropic-version", "2023-06-01")]),
        PassThroughCall(
            format: "gemini_native", path: "/v1beta/models/gemini-2.5-flash:generateContent",
            streamPath: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            body: #"{"contents":[{"parts":[{"text":"hi"}]}]}"#, streamBody: #"{"contents":[{"parts":[{"text":"hi"}]}]}"#,
            headers: [("x-goog-api-key", TestNode.proxyKey)]),
    ]
}

/// Tokens of answers passed through as the upstream wrote them: counted for the key that served and the config, whole
/// answers and streams alike (before the usage tap only converted answers counted any).
@Suite(.serialized) struct PassThroughUsageTests {
    @Test(arguments: PassThroughCall.all)
    func passThroughAnswersCountTheirTokens(_ call: PassThroughCall) async throws {
        let node = try await TestNode.start()
        try await node.whileRunning { node in
            let base = call.format == "gemini_native" ? node.mock.baseURL : node.mock.baseURL + "/v1"
            let id = try await node.createConfig(slug: "pt", format: call.format, base: base)
            try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-pt"))

            let whole = try await node.proxy("pt", call.path, body: call.body, headers: call.headers)
            #expect(whole.status == 200, "\(whole.text)")
            var view = try #require(try await node.keys(configID: id).first)
            #expect(view["input_tokens"] as? Int == 1, "a whole answer's tokens: \(view)")
            #expect(view["output_tokens"] as? Int ?? 0 >= 1, "\(view)")

            let streamed = try await node.proxy("pt", call.streamPath, body: call.streamBody, headers: call.headers)
            #expect(streamed.status == 200, "\(streamed.text)")
            #expect(streamed.headers.first(name: "content-type")?.contains("event-stream") == true, "\(streamed.headers)")
            view = try #require(try await node.keys(configID: id).first)
            #expect(view["input_tokens"] as? Int == 2, "a stream's tokens too: \(view)")
            #expect(view["output_tokens"] as? Int ?? 0 >= 2, "\(view)")

            let metrics = try await node.send(.GET, "/metrics").text
            #expect(metrics.contains(#"rotator_input_tokens_total{slug="pt"} 2"#), "\(metrics.split(separator: "\n").filter { $0.contains("tokens") })")
        }
    }
}
