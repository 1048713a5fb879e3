import FormatConversion
import NIOCore
import NIOHTTP1
import RotatorCore
import Testing
@testable import UpstreamProviders

/// One provider type per dialect: what each says about credentials, headers, models and key checks.
@Suite struct ProviderTests {
    @Test func whereKeysGo() {
        #expect(UpstreamDialect.openAI.keyHeader! == ("Authorization", true))
        #expect(UpstreamDialect.anthropic.keyHeader! == ("x-api-key", false))
        #expect(UpstreamDialect.gemini.keyHeader! == ("x-goog-api-key", false))
        #expect(UpstreamDialect.generic.keyHeader == nil)
        #expect(UpstreamDialect.gemini.credentialQueryNames == ["key"])
        #expect(UpstreamDialect.openAI.credentialQueryNames.isEmpty)
        #expect(AnthropicProvider.clientKeyHeaders == ["x-api-key"])
        #expect(GeminiProvider.clientKeyHeaders == ["x-goog-api-key"])
        #expect(OpenAICompatibleProvider.clientKeyHeaders.isEmpty)
    }

    @Test func probesAreTheModelLists() throws {
        let openAI = try #require(OpenAICompatibleProvider.probe(secret: "sk-1"))
        #expect(openAI.path == "/v1/models")
        #expect(openAI.headers.first(name: "authorization") == "Bearer sk-1")
        let anthropic = try #require(AnthropicProvider.probe(secret: "sk-ant"))
        #expect(anthropic.path == "/v1/models")
        #expect(anthropic.headers.first(name: "x-api-key") == "sk-ant")
        #expect(anthropic.headers.first(name: "anthropic-version") == AnthropicFormat.apiVersion)
        let gemini = try #require(GeminiProvider.probe(secret: "AIza"))
        #expect(gemini.path == GeminiFormat.modelsPath)
        #expect(gemini.headers.first(name: "x-goog-api-key") == "AIza")
        #expect(GenericRESTProvider.probe(secret: "k") == nil)
    }

    @Test func everyFormatHasItsProvider() {
        #expect(ObjectIdentifier(UpstreamDialect(format: .openAICompatible).provider) == ObjectIdentifier(OpenAICompatibleProvider.self))
        #expect(ObjectIdentifier(UpstreamDialect(format: .anthropicNative).provider) == ObjectIdentifier(AnthropicProvider.self))
        #expect(ObjectIdentifier(UpstreamDialect(format: .geminiNative).provider) == ObjectIdentifier(GeminiProvider.self))
        #expect(ObjectIdentifier(UpstreamDialect(format: nil).provider) == ObjectIdentifier(GenericRESTProvider.self))
        #expect(GeminiProvider.modelPlace == .path)
        #expect(AnthropicProvider.versionHeader?.name == "anthropic-version")
        #expect(OpenAICompatibleProvider.versionHeader == nil)
    }
}

/// Which SDK sent a request, from the request alone (the shape of a 401 before any config is known).
@Suite struct SpokenDialectTests {
    private func spoken(_ headers: [(String, String)] = [], path: Substring, query: String? = nil) -> UpstreamDialect {
        UpstreamDialect.spoken(headers: HTTPHeaders(headers), path: path, query: query)
    }

    @Test func eachProvidersMarks() {
        #expect(spoken(path: "/v1beta/models/gemini-2.0-flash:generateContent") == .gemini)
        #expect(spoken(path: "/v1/models/m:streamGenerateContent", query: "alt=sse") == .gemini)
        #expect(spoken(path: "/v1beta/models", query: "key=abc") == .gemini)
        #expect(spoken([("x-goog-api-key", "k")], path: "/v1beta/models") == .gemini)
        #expect(spoken(path: "/v1/messages") == .anthropic)
        #expect(spoken(path: "/v1/messages/count_tokens") == .anthropic)
        #expect(spoken([("x-api-key", "k")], path: "/v1/models") == .anthropic)
        #expect(spoken([("anthropic-version", "2023-06-01")], path: "/v1/models") == .anthropic)
        #expect(spoken([("authorization", "Bearer k")], path: "/v1/chat/completions") == .openAI)
        #expect(spoken(path: "/v1/models") == .openAI)
        // Gemini's marks come first, as the gate always read them.
        #expect(spoken([("x-api-key", "k")], path: "/v1beta/models/m:generateContent") == .gemini)
        #expect(UpstreamDialect.gemini.format == .geminiNative)
        #expect(UpstreamDialect.generic.format == nil)
    }
}
