import ConfigCatalog
import Foundation
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Testing

/// Until a proxy key is verified, the gate's decision does not depend on the slug: the same 401 (shaped by the
/// request's own dialect) for a known, an inactive and an unknown slug, and a body-key request waits for its body
/// whichever slug it names.
@Suite struct ProxyGateAnonymityTests {
    static let proxyKey = "rk-gate-anonymity-0001"

    static func pool(_ format: APIFormat, active: Bool = true) -> ServingPool {
        let config = ProxyConfig(
            id: 1, name: "c", slug: "c", configType: .llm, apiKeyLocation: .header, apiKeyName: "", isActive: active, method: nil,
            targetURL: nil, targetBaseURL: "http://upstream.test/v1", apiFormat: format, outputFormat: nil, keyRPM: 0, createdAt: Date(),
            updatedAt: Date(), version: 1
        )
        return ServingPool(config: config, keys: [UsableKey(id: 1, secret: "sk-upstream-0001")])
    }

    /// What a client learns from the head: the refusal, or that the body is read first.
    static func outcome(_ method: HTTPMethod, _ uri: String, headers: [(String, String)], pool: ServingPool?) -> String {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers + [("content-length", "20")]))
        switch ProxyRequestGate.evaluate(head: head, route: ProxyRoute(uri: uri)!, catalogLoaded: true, pool: pool, proxyKeys: [proxyKey],
                                         maxBodyBytes: 1 << 20) {
        case .refuse(let refusal): return "refused \(refusal.status.code) \(String(describing: refusal.format)) \(refusal.message)"
        case .refuseUnlessBodyKey: return "body read first"
        case .admit(let admission): return admission.credential == .expectedInBody ? "body read first" : "admitted"
        }
    }

    @Test func theSlugMakesNoDifferenceWithoutAValidKey() {
        let requests: [(HTTPMethod, String, [(String, String)])] = [
            (.GET, "/v1/models", []),
            (.POST, "/v1/chat/completions", []),
            (.POST, "/v1/chat/completions", [("Authorization", "Bearer wrong")]),
            (.POST, "/v1/messages", [("x-api-key", "wrong")]),
            (.POST, "/v1beta/models/m:generateContent?key=wrong", []),
            (.POST, "/v1beta/models/m:generateContent", [("x-goog-api-key", "wrong")]),
        ]
        let pools: [ServingPool?] = [nil, Self.pool(.openAICompatible), Self.pool(.anthropicNative), Self.pool(.geminiNative),
                                     Self.pool(.openAICompatible, active: false)]
        for (method, rest, headers) in requests {
            let outcomes = Set(pools.map { Self.outcome(method, "/llm/c\(rest)", headers: headers, pool: $0) })
            #expect(outcomes.count == 1, "\(method) \(rest): \(outcomes)")
        }
        #expect(Self.outcome(.POST, "/llm/c/v1/messages", headers: [("x-api-key", "wrong")], pool: nil).contains("anthropicNative"))
        #expect(Self.outcome(.POST, "/llm/c/v1beta/models/m:generateContent?key=wrong", headers: [], pool: nil).contains("geminiNative"))
        // With a valid key, the node tells what is wrong.
        #expect(Self.outcome(.GET, "/llm/c/v1/models", headers: [("Authorization", "Bearer \(Self.proxyKey)")], pool: nil).contains("404"))
    }
}
