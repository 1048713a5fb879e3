import Foundation
@testable import RotatorAdmin
import RotatorCore
import Testing

@Suite struct ProxyConfigInputTests {
    private func input(_ json: String) throws -> ProxyConfigInput {
        try JSONDecoder().decode(ProxyConfigInput.self, from: Data(json.utf8))
    }

    @Test func defaultsForAMinimalLLMConfig() throws {
        let draft = try input(#"{"name":"OR","slug":"openrouter","target_base_url":"https://openrouter.ai/api/v1"}"#).draft(over: nil)
        #expect(draft.configType == .llm)
        #expect(draft.apiFormat == .openAICompatible)
        #expect(draft.apiKeyLocation == .header)
        #expect(draft.apiKeyName == "Authorization")
        #expect(draft.isActive)
        #expect(draft.keyRPM == 0)
    }

    @Test func enumsAreCaseInsensitive() throws {
        let draft = try input(#"{"name":"G","slug":"g","config_type":"GENERIC","target_url":"http://x.io","api_key_location":"Query","api_key_name":"key","method":"get"}"#)
            .draft(over: nil)
        #expect(draft.configType == .generic)
        #expect(draft.apiKeyLocation == .query)
        #expect(draft.method == "GET")
    }

    @Test(arguments: [
        (#"{"slug":"a","target_base_url":"https://x.io"}"#, "name"),
        (#"{"name":"a","slug":"Bad Slug","target_base_url":"https://x.io"}"#, "slug"),
        (#"{"name":"a","slug":"-a","target_base_url":"https://x.io"}"#, "slug"),
        (#"{"name":"a","slug":"a","target_base_url":"ftp://x.io"}"#, "target_base_url"),
        (#"{"name":"a","slug":"a","target_base_url":"https://"}"#, "target_base_url"),
        (#"{"name":"a","slug":"a"}"#, "target_base_url"),
        (#"{"name":"a","slug":"a","target_base_url":"https://x.io","api_format":"cohere"}"#, "api_format"),
        (#"{"name":"a","slug":"a","target_base_url":"https://x.io","config_type":"grpc"}"#, "config_type"),
        (#"{"name":"a","slug":"a","target_base_url":"https://x.io","key_rpm":-1}"#, "key_rpm"),
        (#"{"name":"a","slug":"a","target_base_url":"https://x.io","method":"BREW"}"#, "method"),
        (#"{"name":"a","slug":"a","target_base_url":"https://x.io","api_key_name":"bad header"}"#, "api_key_name"),
        (#"{"name":"a","slug":"a","target_base_url":"https://x.io","output_format":"cohere"}"#, "none, openai, openai_responses, anthropic, gemini"),
        (#"{"name":"a","slug":"a","target_base_url":"https://x.io","model_map":{"gpt-4o":""}}"#, "model_map"),
        (#"{"name":"a","slug":"a","target_base_url":"https://x.io","model_map":{"a":""}}"#, "model_map"),
        (#"{"name":"a","slug":"a","target_base_url":"https://x.io","default_model":"\#(String(repeating: "m", count: 201))"}"#, "default_model"),
    ])
    func rejectsBadInputNamingTheField(json: String, field: String) throws {
        do {
            _ = try input(json).draft(over: nil)
            Issue.record("accepted \(json)")
        } catch let error as ValidationError {
            #expect(error.message.contains(field), "\(error.message)")
        }
    }

    @Test(arguments: [("openai", "openai"), ("OpenAI_Responses", "openai_responses"), ("anthropic", "anthropic"), ("gemini", "gemini"),
                      ("none", "none"), ("", nil)] as [(String, String?)])
    func outputFormatTakesTheSeedsNames(given: String, stored: String?) throws {
        let draft = try input(#"{"name":"a","slug":"a","target_base_url":"https://x.io","output_format":"\#(given)"}"#).draft(over: nil)
        #expect(draft.outputFormat == stored)
    }

    @Test func modelMapAndDefaultModelAreKeptAndCleared() throws {
        let draft = try input(#"{"name":"a","slug":"a","target_base_url":"https://x.io","model_map":{"gpt-4o":"claude-sonnet-4-5"},"default_model":"claude-haiku-4-5"}"#)
            .draft(over: nil)
        #expect(draft.modelMap == ["gpt-4o": "claude-sonnet-4-5"])
        #expect(draft.defaultModel == "claude-haiku-4-5")
        let base = ProxyConfig(
            id: 1, name: "a", slug: "a", configType: .llm, apiKeyLocation: .header, apiKeyName: "Authorization", isActive: true,
            method: nil, targetURL: nil, targetBaseURL: "https://x.io", apiFormat: .anthropicNative, outputFormat: "openai", keyRPM: 0,
            createdAt: Date(), updatedAt: Date(), version: 1, modelMap: draft.modelMap, defaultModel: draft.defaultModel
        )
        let kept = try input(#"{"name":"b"}"#).draft(over: base)
        #expect(kept.modelMap == draft.modelMap)
        #expect(kept.defaultModel == "claude-haiku-4-5")
        #expect(kept.outputFormat == "openai")
        let cleared = try input(#"{"model_map":{},"default_model":""}"#).draft(over: base)
        #expect(cleared.modelMap.isEmpty)
        #expect(cleared.defaultModel == nil)
    }

    @Test func updateKeepsFieldsLeftOut() throws {
        let base = ProxyConfig(
            id: 1, name: "Old", slug: "old", configType: .llm, apiKeyLocation: .header, apiKeyName: "Authorization", isActive: false,
            method: nil, targetURL: nil, targetBaseURL: "https://a.io/v1", apiFormat: .anthropicNative, outputFormat: nil, keyRPM: 30,
            createdAt: Date(), updatedAt: Date(), version: 1
        )
        let draft = try input(#"{"name":"New"}"#).draft(over: base)
        #expect(draft.name == "New")
        #expect(draft.slug == "old")
        #expect(draft.apiFormat == .anthropicNative)
        #expect(draft.keyRPM == 30)
        #expect(!draft.isActive)
        #expect(draft.targetBaseURL == "https://a.io/v1")
    }

    @Test func slugRule() {
        #expect(ProxyConfigInput.isValidSlug("a"))
        #expect(ProxyConfigInput.isValidSlug("open-router_2"))
        #expect(ProxyConfigInput.isValidSlug(String(repeating: "a", count: 64)))
        #expect(!ProxyConfigInput.isValidSlug(String(repeating: "a", count: 65)))
        #expect(!ProxyConfigInput.isValidSlug("_a"))
        #expect(!ProxyConfigInput.isValidSlug("aé"))
        #expect(!ProxyConfigInput.isValidSlug(""))
    }
}
