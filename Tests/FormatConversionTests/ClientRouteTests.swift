import FormatConversion
import Foundation
import RotatorCore
import Testing

@Suite struct ClientRouteTests {
    @Test func eachClientFormatAnswersItsOwnPaths() {
        #expect(ClientRoute.resolve(outputFormat: .openAI, method: "POST", path: "/v1/chat/completions") == .chat(ChatCall()))
        #expect(ClientRoute.resolve(outputFormat: .openAI, method: "GET", path: "/v1/models") == .listModels)
        #expect(ClientRoute.resolve(outputFormat: .openAIResponses, method: "POST", path: "/v1/responses") == .chat(ChatCall()))
        #expect(ClientRoute.resolve(outputFormat: .anthropic, method: "POST", path: "/v1/messages") == .chat(ChatCall()))
        #expect(ClientRoute.resolve(outputFormat: .anthropic, method: "GET", path: "/v1/models?limit=20") == .listModels)
        #expect(ClientRoute.resolve(outputFormat: .gemini, method: "GET", path: "/v1beta/models") == .listModels)
        #expect(ClientRoute.resolve(outputFormat: .gemini, method: "POST", path: "/v1beta/models/gemini-2.5-flash:generateContent")
            == .chat(ChatCall(pathModel: "gemini-2.5-flash", pathStreams: false)))
        #expect(ClientRoute.resolve(outputFormat: .gemini, method: "POST", path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=k")
            == .chat(ChatCall(pathModel: "gemini-2.5-flash", pathStreams: true, serverSentEvents: true)))
        #expect(ClientRoute.resolve(outputFormat: .gemini, method: "POST", path: "/v1beta/models/g:streamGenerateContent")
            == .chat(ChatCall(pathModel: "g", pathStreams: true, serverSentEvents: false)))
        // google-genai calls `/v1/...` too: Google serves the same shapes there.
        #expect(ClientRoute.resolve(outputFormat: .gemini, method: "POST", path: "/v1/models/g:generateContent")
            == .chat(ChatCall(pathModel: "g", pathStreams: false)))
        #expect(ClientRoute.resolve(outputFormat: .gemini, method: "GET", path: "/v1/models") == .listModels)
        #expect(ClientRoute.resolve(outputFormat: .gemini, method: "GET", path: "/v1alpha/models") == .listModels)
        #expect(ClientRoute.resolve(outputFormat: .gemini, method: "POST", path: "/v1alpha/models/g:generateContent")
            == .chat(ChatCall(pathModel: "g", pathStreams: false)))
    }

    @Test(arguments: [
        (OutputFormat.openAI, "POST", "/v1/messages"), (.openAI, "GET", "/v1/chat/completions"), (.openAIResponses, "POST", "/v1/chat/completions"),
        (.anthropic, "POST", "/v1/chat/completions"), (.gemini, "POST", "/v1/chat/completions"),
        (.gemini, "POST", "/v1beta/models/:generateContent"), (.gemini, "POST", "/v1beta/models/a/b:generateContent"),
        (.gemini, "POST", "/v1beta/models/m:countTokens"),
    ])
    func otherPathsAre404sNamingThePathsThatWork(format: OutputFormat, method: String, path: String) throws {
        guard case .notFound(let body) = ClientRoute.resolve(outputFormat: format, method: method, path: path) else {
            Issue.record("\(format) served \(method) \(path)")
            return
        }
        let error = try JSONParser.parse(body)
        let message = try #require(error["error"]?["message"]?.string)
        for working in ClientRoute.paths(for: format) { #expect(message.contains(working), "\(message)") }
        if format == .anthropic { #expect(error["error"]?["type"]?.string == "not_found_error") }
        if format == .gemini { #expect(error["error"]?["status"]?.string == "NOT_FOUND") }
    }
}

extension ClientRouteTests {
    @Test func aConfigSaysWhetherAndHowItConverts() {
        func config(_ output: String?, _ type: ConfigType = .llm) -> ProxyConfig {
            ProxyConfig(
                id: 1, name: "c", slug: "c", configType: type, apiKeyLocation: .header, apiKeyName: "Authorization", isActive: true,
                method: nil, targetURL: nil, targetBaseURL: "https://x.io", apiFormat: .anthropicNative, outputFormat: output, keyRPM: 0,
                createdAt: .now, updatedAt: .now, version: 1, modelMap: ["gpt-4o": "claude-sonnet-4-5"], defaultModel: "claude-haiku-4-5")
        }
        #expect(config("openai").formatPair == FormatPair(client: .openAI, upstream: .anthropicNative))
        #expect(config(nil).formatPair == nil)
        #expect(config("none").formatPair == nil)
        #expect(config("").formatPair == nil)
        #expect(config("openai", .generic).formatPair == nil)
        #expect(config("openai").modelMapping.upstreamModel(for: "gpt-4o") == "claude-sonnet-4-5")
        #expect(config("openai").modelMapping.upstreamModel(for: "other") == "claude-haiku-4-5")
    }
}
