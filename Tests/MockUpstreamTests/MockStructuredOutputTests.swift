import Foundation
import MockUpstream
import Testing

/// Structured output in the mock: JSON (matching the schema) only when the request asks for it in its own
/// provider's field, plain text otherwise; the shapes each provider refuses are refused. Gemini answers at `/v1`
/// as at `/v1beta` (google-genai 3.x calls `/v1`), never at a version said twice.
@Suite("Mock upstream structured output")
struct MockStructuredOutputTests {
    typealias Fixture = MockUpstreamFixture

    static let schema = #"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"#
        + ##""tags":{"type":"array","items":{"type":"string"}},"home":{"$ref":"#/$defs/Home"}},"required":["name","age","tags","home"],"##
        + #""additionalProperties":false,"$defs":{"Home":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}"#

    /// The answer text parsed as JSON, checked against `schema`'s members.
    static func expectPerson(_ text: String?, sourceLocation: SourceLocation = #_sourceLocation) {
        let parsed = text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        #expect(parsed?["name"] is String, "not the schema's JSON: \(text ?? "nil")", sourceLocation: sourceLocation)
        #expect(parsed?["age"] is Int, sourceLocation: sourceLocation)
        #expect(parsed?["tags"] is [String], sourceLocation: sourceLocation)
        #expect((parsed?["home"] as? [String: Any])?["city"] is String, sourceLocation: sourceLocation)
    }

    static let bearer = [("Authorization", "Bearer sk-so-0001")]
    static let anthropic = [("x-api-key", "sk-so-0002"), Fixture.anthropicVersion]
    static let google = [("x-goog-api-key", "sk-so-0003")]

    @Test func eachDialectAnswersJSONWhenAskedInItsOwnField() async throws {
        try await Fixture.run { mock in
            let chat = try await mock.send("POST", "/v1/chat/completions", headers: Self.bearer, body: """
                {"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"person","strict":true,"schema":\(Self.schema)}}}
                """)
            Self.expectPerson(((chat.json["choices"] as? [[String: Any]])?.first?.object("message"))?.string("content"))

            let responses = try await mock.send("POST", "/v1/responses", headers: Self.bearer, body: """
                {"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"person","schema":\(Self.schema)}}}
                """)
            let output = (responses.json["output"] as? [[String: Any]])?.first?["content"] as? [[String: Any]]
            Self.expectPerson(output?.first?.string("text"))

            let message = try await mock.send("POST", "/v1/messages", headers: Self.anthropic, body: """
                {"model":"c","max_tokens":64,"messages":[{"role":"user","content":"hi"}],"output_config":{"format":{"type":"json_schema","schema":\(Self.schema)}}}
                """)
            Self.expectPerson((message.json["content"] as? [[String: Any]])?.first?.string("text"))

            for version in ["v1", "v1beta"] {
                let gemini = try await mock.send("POST", "/\(version)/models/g:generateContent", headers: Self.google, body: """
                    {"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":\(Self.schema)}}
                    """)
                #expect(gemini.status == 200, "\(version): \(gemini.body)")
                let parts = (gemini.json["candidates"] as? [[String: Any]])?.first?.object("content")["parts"] as? [[String: Any]]
                Self.expectPerson(parts?.first?.string("text"))
            }
        }
    }

    @Test func jsonModeAndOpenAPISchemasAnswerJSONAndStreamsJoinToIt() async throws {
        try await Fixture.run { mock in
            let chat = try await mock.send("POST", "/v1/chat/completions", headers: Self.bearer, body: """
                {"model":"m","messages":[{"role":"user","content":"json please"}],"response_format":{"type":"json_object"}}
                """)
            let content = ((chat.json["choices"] as? [[String: Any]])?.first?.object("message"))?.string("content") ?? ""
            #expect((try? JSONSerialization.jsonObject(with: Data(content.utf8))) is [String: Any], "\(content)")

            let gemini = try await mock.send("POST", "/v1beta/models/g:generateContent", headers: Self.google, body: """
                {"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"n":{"type":"INTEGER"}}}}}
                """)
            let parts = (gemini.json["candidates"] as? [[String: Any]])?.first?.object("content")["parts"] as? [[String: Any]]
            #expect(parts?.first?.string("text") == #"{"n":1}"#)

            // Streamed in pieces (three chunks), joined back to the whole JSON.
            let stream = try await mock.send("POST", "/v1/messages", headers: Self.anthropic + [("x-mock-chunks", "3")], body: """
                {"model":"c","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}],"output_config":{"format":{"type":"json_schema","schema":\(Self.schema)}}}
                """)
            let pieces = stream.body.split(separator: "\n").filter { $0.hasPrefix("data: ") }.compactMap { line -> String? in
                let event = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any]
                return event?.object("delta").string("text")
            }
            #expect(pieces.count == 3, "\(stream.body)")
            Self.expectPerson(pieces.joined())
        }
    }

    @Test func withoutAskingTheAnswerIsText() async throws {
        try await Fixture.run { mock in
            let chat = try await mock.send("POST", "/v1/chat/completions", headers: Self.bearer, body: """
                {"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"text"}}
                """)
            let content = ((chat.json["choices"] as? [[String: Any]])?.first?.object("message"))?.string("content") ?? ""
            #expect(content.hasPrefix("served by key"), "\(content)")
            let gemini = try await mock.send("POST", "/v1/models/g:generateContent", headers: Self.google, body: """
                {"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"text/plain"}}
                """)
            let parts = (gemini.json["candidates"] as? [[String: Any]])?.first?.object("content")["parts"] as? [[String: Any]]
            #expect(parts?.first?.string("text")?.hasPrefix("served by key") == true, "\(gemini.body)")
        }
    }

    @Test(arguments: [
        // Another provider's field for structured output is an unknown field.
        ("/v1/messages", anthropic, #"{"model":"c","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}"#,
         "response_format: Extra inputs are not permitted"),
        ("/v1/chat/completions", bearer, #"{"model":"m","messages":[{"role":"user","content":"hi"}],"output_config":{"format":{"type":"json_schema","schema":{}}}}"#,
         "Unrecognized request argument supplied: output_config"),
        ("/v1beta/models/g:generateContent", google, #"{"contents":[{"parts":[{"text":"hi"}]}],"response_format":{"type":"json_object"}}"#,
         #"Unknown name "response_format""#),
        ("/v1/responses", bearer, #"{"model":"m","input":"hi","response_format":{"type":"json_object"}}"#, "Unknown parameter: 'response_format'."),
        // The provider's own field in a shape it refuses.
        ("/v1/messages", anthropic, #"{"model":"c","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"output_config":{"format":{"type":"json_object"}}}"#,
         "does not match any of the expected tags: 'json_schema'"),
        ("/v1/messages", anthropic, #"{"model":"c","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"a":{"type":"object","properties":{},"additionalProperties":false}}}}}}"#,
         "'additionalProperties' must be explicitly set to false"),
        ("/v1/chat/completions", bearer, #"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"schema":{}}}}"#,
         "Missing required parameter: 'response_format.json_schema.name'."),
        ("/v1/responses", bearer, #"{"model":"m","input":"hi","text":{"format":{"type":"json_schema","schema":{}}}}"#, "Missing required parameter: 'text.format.name'."),
        ("/v1/chat/completions", bearer, #"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}"#,
         "'messages' must contain the word 'json' in some form"),
    ])
    func structuredOutputInAShapeTheProviderRefusesIsA400(path: String, headers: [(String, String)], body: String, message: String) async throws {
        try await Fixture.run { mock in
            let response = try await mock.send("POST", path, headers: headers, body: body)
            #expect(response.status == 400, "\(response.body)")
            #expect(response.json.object("error").string("message")?.contains(message) == true, "\(response.body)")
        }
    }

    /// google-genai's `/v1` under a base that already says `/v1beta` is Google's 404, as is a version said twice.
    @Test(arguments: ["/v1beta/v1/models/g:generateContent", "/v1/v1beta/models/g:generateContent", "/models/g:generateContent"])
    func aGeminiPathWithoutExactlyOneVersionIsA404(path: String) async throws {
        try await Fixture.run { mock in
            let response = try await mock.send("POST", path, headers: Self.google, body: Fixture.geminiBody)
            #expect(response.status == 404, "\(response.body)")
            #expect(response.json.object("error").string("status") == "NOT_FOUND")
        }
    }
}
