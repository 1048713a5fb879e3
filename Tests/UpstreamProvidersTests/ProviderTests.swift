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
