import ConfigCatalog
import FormatConversion
import Foundation
import NIOCore
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Testing

/// What the gate decides from the head of a request to a converting config: the client's path and credential
/// placement count, the upstream's path follows from the call; pass-through configs are untouched.
@Suite struct ProxyConversionGateTests {
    static let proxyKey = "rk-gate-test-key-0001"

    static func pool(output: String?, api: APIFormat, base: String = "http://upstream.test/v1", modelMap: [String: String] = [:]) -> ServingPool {
        let config = ProxyConfig(
            id: 1, name: "c", slug: "c", configType: .llm, apiKeyLocation: .header, apiKeyName: "", isActive: true, method: nil,
            targetURL: nil, targetBaseURL: base, apiFormat: api, outputFormat: output, keyRPM: 0, createdAt: Date(), updatedAt: Date(),
            version: 1, modelMap: modelMap
        )
        return ServingPool(config: config, keys: [UsableKey(id: 1, secret: "sk-upstream-0001")])
    }

    static func evaluate(_ method: HTTPMethod, _ uri: String, headers: [(String, String)], pool: ServingPool) -> ProxyRequestGate.Decision {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
        return ProxyRequestGate.evaluate(head: head, route: ProxyRoute(uri: uri)!, catalogLoaded: true, pool: pool, proxyKeys: [proxyKey],
                                         maxBodyBytes: 1 << 20)
    }

    @Test func anthropicClientOverOpenAIUsesItsOwnHeaderAndErrorShape() throws {
        let pool = Self.pool(output: "anthropic", api: .openAICompatible)
        guard case .admit(let admission) = Self.evaluate(.POST, "/llm/c/v1/messages", headers: [("x-api-key", Self.proxyKey)], pool: pool) else {
            Issue.record("an Anthropic client's x-api-key is its credential")
            return
        }
        #expect(admission.format == .anthropicNative)
        #expect(admission.conversion?.call == .chat(ChatCall()))
        guard case .refuse(let refusal) = Self.evaluate(.POST, "/llm/c/v1/messages", headers: [("x-api-key", "wrong")], pool: pool) else {
            Issue.record("a wrong key is refused")
            return
        }
        #expect(refusal.status == .unauthorized)
        #expect(refusal.format == .anthropicNative)
    }

    @Test func otherPathsAreA404NamingThePathsThatWork() throws {
        let pool = Self.pool(output: "gemini", api: .anthropicNative)
        guard case .refuse(let refusal) = Self.evaluate(.POST, "/llm/c/v1/chat/completions?key=\(Self.proxyKey)", headers: [], pool: pool) else {
            Issue.record("not a Gemini path")
            return
        }
        #expect(refusal.status == .notFound)
        let body = String(decoding: try #require(refusal.body), as: UTF8.self)
        #expect(body.contains(":generateContent"), "\(body)")
    }

    @Test func modelListGoesToTheUpstreamsModelsPathUnderTheBase() throws {
        let pool = Self.pool(output: "openai", api: .geminiNative, base: "http://upstream.test/api/v1beta?tenant=7")
        guard case .admit(let admission) = Self.evaluate(.GET, "/llm/c/v1/models", headers: [("Authorization", "Bearer \(Self.proxyKey)")], pool: pool)
        else {
            Issue.record("an OpenAI client's model list")
            return
        }
        #expect(admission.upstreamPath == "/api/v1beta/models")
        #expect(admission.upstreamQuery == "tenant=7")
        #expect(admission.conversion?.call == .listModels)
    }

    @Test func convertedPathsKeepTheirQueryAndDropTheClients() {
        let target = UpstreamTarget("http://upstream.test/v1beta")!
        let joined = ProxyConversion.upstreamTarget(target, path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
        #expect(joined.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent")
        #expect(joined.query == "alt=sse")
    }

    @Test func passThroughConfigsBuildNoConversion() throws {
        for pool in [Self.pool(output: nil, api: .anthropicNative), Self.pool(output: "none", api: .anthropicNative),
                     Self.pool(output: "anthropic", api: .anthropicNative)] {
            guard case .admit(let admission) = Self.evaluate(.POST, "/llm/c/v1/anything", headers: [("x-api-key", Self.proxyKey)], pool: pool) else {
                Issue.record("a pass-through config forwards any path")
                continue
            }
            #expect(admission.conversion == nil)
            #expect(admission.upstreamPath == "/v1/anything")
        }
        // The same wire format with a model map converts (the model name changes).
        let mapped = Self.pool(output: "anthropic", api: .anthropicNative, modelMap: ["a": "b"])
        guard case .admit(let admission) = Self.evaluate(.POST, "/llm/c/v1/messages", headers: [("x-api-key", Self.proxyKey)], pool: mapped) else {
            Issue.record("a mapped config")
            return
        }
        #expect(admission.conversion != nil)
    }

    @Test func convertedStreamsAreReadEventByEventAndEverythingElseWhole() {
        let pair = FormatPair(client: .openAI, upstream: .anthropicNative)!
        var conversion = ProxyConversion(pair: pair, models: .identity, call: .chat(ChatCall()))
        let body = #"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        #expect(conversion.convertRequest(ByteBuffer(string: body)) == nil)
        #expect(conversion.streams)
        #expect(conversion.reading == .streams, "a 2xx streams; any other answer is read whole (ExchangeStateMachineTests)")
        var whole = ProxyConversion(pair: pair, models: .identity, call: .chat(ChatCall()))
        #expect(whole.convertRequest(ByteBuffer(string: #"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#)) == nil)
        #expect(whole.reading == .whole)
        let rejected = whole.convertRequest(ByteBuffer(string: "{nope"))
        #expect(rejected?.status == 400)
    }
}
