import Foundation
import NIOHTTP1
import Testing

/// Without a valid proxy key nothing tells a known slug from an unknown one, and `/metrics` (which lists every slug)
/// asks for `METRICS_TOKEN` when it is set.
@Suite(.serialized) struct SlugPrivacyTests {
    /// Requests without a valid proxy key, each sent to every slug: (method, path after the slug, headers, body).
    static let anonymousRequests: [(HTTPMethod, String, [(String, String)], String?)] = [
        (.GET, "/v1/models", [], nil),
        (.POST, "/v1/chat/completions", [], #"{"model":"m","messages":[]}"#),
        (.POST, "/v1/chat/completions", [], #"{"model":"m","messages":[],"api_key":"wrong-key"}"#),
        (.POST, "/v1/chat/completions", [("Authorization", "Bearer wrong-key")], #"{"model":"m","messages":[]}"#),
        (.POST, "/v1/messages", [("x-api-key", "wrong-key"), ("anthropic-version", "2023-06-01")], #"{"model":"m","messages":[]}"#),
        (.POST, "/v1beta/models/m:generateContent?key=wrong-key", [], #"{"contents":[]}"#),
        (.POST, "/v1beta/models/m:generateContent", [], #"{"contents":[]}"#),
        (.GET, "/v1/models", [("X-Proxy-Key", "wrong-key")], nil),
    ]

    @Test func knownAndUnknownSlugsAnswerAlikeWithoutAKey() async throws {
        // Many 401s from one address: the wrong-key throttle is off here (it has its own test).
        try await withRunningNode(environment: ["WRONG_PROXY_KEY_LIMIT": "0"]) { node in
            _ = try await node.createConfig(slug: "open")
            _ = try await node.createConfig(slug: "claude", format: "anthropic_native")
            _ = try await node.createConfig(slug: "gem", format: "gemini_native")
            let off = try await node.createConfig(slug: "off")
            #expect(try await node.admin(.PUT, "/admin/proxy-configs/\(off)/status", body: #"{"is_active":false}"#).status == 200)
            let generic = try await node.admin(.POST, "/admin/proxy-configs", body: """
                {"name":"svc","slug":"svc","config_type":"generic","target_url":"\(node.mock.baseURL)/api","method":"GET"}
                """)
            #expect(generic.status == 201, "\(generic.text)")
            for (method, rest, headers, body) in Self.anonymousRequests {
                var answers: [String: String] = [:]
                for slug in ["open", "claude", "gem", "off", "svc", "no-such-slug"] {
                    let reply = try await node.send(method, "/llm/\(slug)\(rest)", headers: headers, body: body)
                    #expect(reply.status == 401, "\(method) /llm/\(slug)\(rest) answered \(reply.status): \(reply.text)")
                    answers[slug] = "\(reply.status) \(reply.headers.first(name: "content-type") ?? "") \(reply.text)"
                }
                #expect(Set(answers.values).count == 1, "\(method) \(rest) told slugs apart: \(answers)")
            }
            // Generic routes: the same 401 for a known slug (even one that allows another method) and an unknown one.
            var generics: Set<String> = []
            for slug in ["svc", "open", "no-such-slug"] {
                for method: HTTPMethod in [.GET, .POST] {
                    let reply = try await node.send(method, "/proxy/\(slug)/x", headers: [("Authorization", "Bearer wrong-key")])
                    #expect(reply.status == 401, "\(method) /proxy/\(slug)/x answered \(reply.status)")
                    generics.insert("\(reply.status) \(reply.text)")
                }
            }
            #expect(generics.count == 1, "\(generics)")
            // With a valid key the node still says what is wrong.
            #expect(try await node.proxy("no-such-slug").status == 404)
            #expect(try await node.proxy("off").status == 404)
        }
    }

    @Test func metricsAskForTheirTokenWhenSet() async throws {
        let token = "metrics-token-0123456789abcdef"
        try await withRunningNode(environment: ["METRICS_TOKEN": token]) { node in
            _ = try await node.createConfig(slug: "listed-slug")
            for headers in [[], [("Authorization", "Bearer wrong-token-0123456789")], [("Authorization", token)]] {
                let refused = try await node.send(.GET, "/metrics", headers: headers)
                #expect(refused.status == 401, "\(headers): \(refused.status)")
                #expect(!refused.text.contains("listed-slug"))
            }
            let allowed = try await node.send(.GET, "/metrics", headers: [("Authorization", "Bearer \(token)")])
            #expect(allowed.status == 200)
            #expect(allowed.text.contains("rotator_"), "\(allowed.text.prefix(200))")
        }
    }
}
