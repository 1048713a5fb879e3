import Foundation
import MockUpstream
import Testing

/// Each dialect answers only at its own paths, in its own request format, with its own credential header,
/// and refuses the rest the way the provider does: so a proxy test cannot pass on a pass-through by accident.
@Suite("Mock upstream strictness")
struct MockUpstreamStrictnessTests {
    typealias Fixture = MockUpstreamFixture

    @Test func aKeyInAnotherProvidersHeaderIsA401InThisProvidersShape() async throws {
        try await Fixture.run { mock in
            let openAI = try await mock.send("POST", "/v1/chat/completions", headers: [("x-api-key", "sk-x-0001")], body: Fixture.chatBody)
            #expect(openAI.status == 401)
            #expect(openAI.json.object("error").string("message")?.contains("Bearer") == true)

            let anthropic = try await mock.send(
                "POST", "/v1/messages", headers: [("x-goog-api-key", "sk-x-0002"), Fixture.anthropicVersion], body: Fixture.messagesBody)
            #expect(anthropic.status == 401)
            #expect(anthropic.json.object("error").string("type") == "authentication_error")

            let gemini = try await mock.send(
                "POST", "/v1beta/models/g:generateContent", headers: [("Authorization", "Bearer sk-x-0003")], body: Fixture.geminiBody)
            #expect(gemini.status == 401)
            #expect(gemini.json.object("error").string("status") == "UNAUTHENTICATED")
            #expect(mock.state.counters()[MockUpstreamState.missingKeyLabel]?.unauthorized == 3)
        }
    }

    static let anthropicBody = #"{"model":"c","max_tokens":8,"system":"be brief","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#
    static let openAIBodyWithMaxTokens = #"{"model":"m","max_tokens":8,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#
    static let openAIBody = #"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#

    @Test(arguments: [
        // Another provider's body at this provider's path, with this provider's credential.
        ("/v1/chat/completions", [("Authorization", "Bearer sk-b-0001")], anthropicBody, "Unrecognized request argument supplied: system"),
        ("/v1/chat/completions", [("Authorization", "Bearer sk-b-0001")], Fixture.geminiBody, "Unrecognized request argument supplied: contents"),
        ("/v1/messages", [("x-api-key", "sk-b-0002"), Fixture.anthropicVersion], openAIBodyWithMaxTokens, "messages.0.role: Input should be 'user' or 'assistant'"),
        ("/v1/messages", [("x-api-key", "sk-b-0002"), Fixture.anthropicVersion], Fixture.chatBody, "max_tokens: Field required"),
        ("/v1/messages", [("x-api-key", "sk-b-0002")], Fixture.messagesBody, "anthropic-version: header is required"),
        ("/v1beta/models/g:generateContent", [("x-goog-api-key", "sk-b-0003")], openAIBody, #"Unknown name "messages""#),
        ("/v1/responses", [("Authorization", "Bearer sk-b-0004")], Fixture.chatBody, "Unknown parameter: 'messages'."),
        ("/v1/chat/completions", [("Authorization", "Bearer sk-b-0001")], #"{"model":"m","messages":[]}"#, "empty array"),
        ("/v1/chat/completions", [("Authorization", "Bearer sk-b-0001")], "not json", "could not parse the JSON body"),
    ])
    func anotherProvidersBodyIsA400(path: String, headers: [(String, String)], body: String, message: String) async throws {
        try await Fixture.run { mock in
            let response = try await mock.send("POST", path, headers: headers, body: body)
            #expect(response.status == 400, "\(response.body)")
            #expect(response.json.object("error").string("message")?.contains(message) == true, "\(response.body)")
            #expect(response.header("x-mock-served-by") == nil)
        }
    }

    @Test func aProvidersPathWithAnotherMethodOrActionIsItsOwn404() async throws {
        try await Fixture.run { mock in
            let messages = try await mock.send("GET", "/v1/messages", headers: [("x-api-key", "sk-n-0001"), Fixture.anthropicVersion])
            #expect(messages.status == 404)
            #expect(messages.json.object("error").string("type") == "not_found_error")
            let gemini = try await mock.send("POST", "/v1beta/models/g:countTokens", headers: [("x-goog-api-key", "sk-n-0002")], body: Fixture.geminiBody)
            #expect(gemini.status == 404)
            #expect(gemini.json.object("error").string("status") == "NOT_FOUND")
            let chat = try await mock.send("GET", "/v1/chat/completions", headers: [("Authorization", "Bearer sk-n-0003")])
            #expect(chat.status == 404)
        }
    }

    static let weatherTool = #"{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}"#

    @Test func offeredToolsAreCalledInEachDialect() async throws {
        try await Fixture.run { mock in
            let chat = try await mock.send("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer sk-t-0001")], body: """
                {"model":"m","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":\(Self.weatherTool)}}]}
                """)
            let choice = (chat.json["choices"] as? [[String: Any]])?.first ?? [:]
            #expect(choice.string("finish_reason") == "tool_calls")
            let call = (choice.object("message")["tool_calls"] as? [[String: Any]])?.first?.object("function") ?? [:]
            #expect(call.string("name") == "get_weather")
            #expect(call.string("arguments") == #"{"city":"mock"}"#)

            let answered = try await mock.send("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer sk-t-0001")], body: """
                {"model":"m","messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"sunny"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":\(Self.weatherTool)}}]}
                """)
            #expect(((answered.json["choices"] as? [[String: Any]])?.first)?.string("finish_reason") == "stop")

            let anthropic = try await mock.send("POST", "/v1/messages", headers: [("x-api-key", "sk-t-0002"), Fixture.anthropicVersion], body: """
                {"model":"c","max_tokens":9,"messages":[{"role":"user","content":"weather?"}],"tools":[{"name":"get_weather","input_schema":\(Self.weatherTool)}],"stream":true}
                """)
            #expect(anthropic.body.contains(#""type":"tool_use""#))
            #expect(anthropic.body.contains(#""type":"input_json_delta""#))
            #expect(anthropic.body.contains(#""stop_reason":"tool_use""#))

            let gemini = try await mock.send("POST", "/v1beta/models/g:generateContent", headers: [("x-goog-api-key", "sk-t-0003")], body: """
                {"contents":[{"role":"user","parts":[{"text":"weather?"}]}],"tools":[{"functionDeclarations":[{"name":"get_weather","parameters":\(Self.weatherTool)}]}]}
                """)
            #expect(gemini.body.contains(#""functionCall":{"name":"get_weather","args":{"city":"mock"}}"#), "\(gemini.body)")

            let responses = try await mock.send("POST", "/v1/responses", headers: [("Authorization", "Bearer sk-t-0004")], body: """
                {"model":"m","input":"weather?","tools":[{"type":"function","name":"get_weather","parameters":\(Self.weatherTool)}]}
                """)
            let item = (responses.json["output"] as? [[String: Any]])?.first ?? [:]
            #expect(item.string("type") == "function_call")
            #expect(item.string("arguments") == #"{"city":"mock"}"#)
        }
    }

    @Test func responsesStreamsItsSemanticEvents() async throws {
        let state = MockUpstreamState(settings: MockUpstreamSettings(chunks: 2))
        try await Fixture.run(state) { mock in
            let response = try await mock.send("POST", "/v1/responses", headers: [("Authorization", "Bearer sk-r-0001")],
                                               body: #"{"model":"m","input":"hi","stream":true}"#)
            let events = response.body.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
            #expect(events == [
                "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
                "response.output_text.delta", "response.output_text.delta", "response.output_text.done", "response.content_part.done",
                "response.output_item.done", "response.completed",
            ])
        }
    }

    @Test func aStreamReportsUsageWhenAsked() async throws {
        try await Fixture.run { mock in
            let response = try await mock.send("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer sk-u-0001")],
                                               body: #"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(response.body.contains(#""choices":[],"usage":{"prompt_tokens":1"#))
            #expect(response.body.hasSuffix("data: [DONE]\n\n"))
        }
    }
}
