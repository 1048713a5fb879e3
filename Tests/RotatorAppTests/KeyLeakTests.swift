import AsyncHTTPClient
import Foundation
import MockUpstream
import NIOCore
import NIOHTTP1
import Testing

/// A real node and the strict mock: no answer hands the client any form of the upstream key, in any status, encoding
/// or path (issue 16, hole 2), and no request hands the upstream the client's own proxy key or a path the client's
/// model name chose (hole 6).
@Suite(.serialized) struct KeyLeakTests {
    /// Characters that percent-encoding changes, so the key's encoded forms differ from it.
    static let queryKey = "gk-Leak/0001+Ab=cdefghijklmnopq"
    /// A key that can stand in a header name (the mock echoes one there).
    static let headerKey = "hk-leak-0001-abcdefghijklmnopq"
    static let llmKey = "sk-leak-0001-abcdefghijklmnopq"
    static let proxyHeader = ("X-Proxy-Key", TestNode.proxyKey)

    /// One node with a generic config per key placement and an OpenAI-compatible LLM config, stopped before the test ends.
    static func withNode(_ body: (TestNode, HTTPClient) async throws -> Void) async throws {
        let node = try await TestNode.start()
        // Redirects are answers to look at, not to follow.
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        do {
            try await setUp(node)
            try await body(node, client)
        } catch {
            try? await client.shutdown()
            await node.stop()
            throw error
        }
        try await client.shutdown()
        await node.stop()
    }

    static func setUp(_ node: TestNode) async throws {
        for (slug, location, name, key) in [("gq", "query", "api_key", queryKey), ("gh", "header", "X-Api-Key", headerKey)] {
            let created = try await node.admin(.POST, "/admin/proxy-configs", body: """
                {"name":"\(slug)","slug":"\(slug)","config_type":"generic","target_url":"\(node.mock.baseURL)/api","api_key_location":"\(location)","api_key_name":"\(name)"}
                """)
            #expect(created.status == 201, "\(created.text)")
            try await node.addKeys(configID: try #require(try created.object()["id"] as? Int), [key])
        }
        try await node.addKeys(configID: try await node.createConfig(slug: "llm"), [llmKey])
    }

    static func send(_ client: HTTPClient, _ node: TestNode, _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [],
                     body: String? = nil) async throws -> TestNode.Reply {
        var request = HTTPClientRequest(url: node.baseURL + path)
        request.method = method
        request.headers.add(name: proxyHeader.0, value: proxyHeader.1)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let collected = try await response.body.collect(upTo: 64 << 20)
        return TestNode.Reply(status: Int(response.status.code), headers: response.headers, body: collected)
    }

    static let allKeys = [queryKey, headerKey, llmKey]

    /// Fails on the code before issue 16: a 2xx answer was never scrubbed.
    @Test func echoedAnswersOfGenericConfigsCarryNoFormOfTheKey() async throws {
        try await Self.withNode { node, client in
            for slug in ["gq", "gh"] {
                let whole = try await Self.send(client, node, .POST, "/proxy/\(slug)/echo?x=1", headers: [("x-mock-echo-as", "all")], body: #"{"a":1}"#)
                #expect(whole.status == 200, "\(whole.text)")
                #expect(whole.text.contains("\"as\":{\"base64\""), "the echo with every encoding: \(whole.text.prefix(300))")
                try KeyLeakCheck.expectNoKey(in: whole, keys: Self.allKeys, "\(slug) whole echo")
                // The same answer written 7 bytes at a time: keys split across reads.
                let pieces = try await Self.send(client, node, .GET, "/proxy/\(slug)/echo", headers: [
                    ("x-mock-echo-as", "all"), ("x-mock-chunk-bytes", "7"), ("x-mock-chunk-delay-ms", "1"),
                ])
                #expect(pieces.status == 200)
                try KeyLeakCheck.expectNoKey(in: pieces, keys: Self.allKeys, "\(slug) echo in 7-byte pieces")
                // 100 KB, read whole: scrubbed with its declared length kept (streams keep theirs too: see
                // StreamingSecretScrubberTests; answers over ~100 KB stall on the relay's back-pressure until issue 16's
                // hole 1 is fixed, so none is asked for here).
                let large = try await Self.send(client, node, .GET, "/proxy/\(slug)/echo", headers: [("x-mock-echo-key-at", "100000")])
                #expect(large.status == 200)
                #expect(large.headers.first(name: "content-length") == String(large.body.readableBytes), "scrubbing keeps the length")
                try KeyLeakCheck.expectNoKey(in: large, keys: Self.allKeys, "\(slug) 300 KB echo")
            }
            #expect(node.mockState.recordedRequests.contains { $0.key == Self.headerKey }, "the echo did carry the key")
        }
    }

    /// Fails on the code before issue 16: the client's `Accept-Encoding: gzip` went up, and the gzipped error body
    /// passed unscrubbed.
    @Test func compressedAnswersAreReadBeforeTheyAreScrubbed() async throws {
        try await Self.withNode { node, client in
            let accepted = try await Self.send(client, node, .GET, "/proxy/gq/echo", headers: [("Accept-Encoding", "gzip"), ("x-mock-echo-status", "400")])
            #expect(accepted.status == 400)
            #expect(node.mockState.recordedRequests.last?.header("accept-encoding") == "identity", "the upstream is asked for identity")
            try KeyLeakCheck.expectNoKey(in: accepted, keys: Self.allKeys, "error body, client accepts gzip")
            // An upstream that gzips whatever it is asked: decoded, then scrubbed (errors, redirects' kin and streams).
            let cases: [(String, [(String, String)])] = [
                ("/proxy/gq/echo", [("x-mock-echo-status", "400")]),
                ("/proxy/gh/echo", [("x-mock-echo-status", "200"), ("x-mock-echo-as", "all")]),
                ("/proxy/gh/echo", [("x-mock-echo-as", "all"), ("x-mock-chunk-bytes", "5")]),
                ("/llm/llm/v1/echo", [("x-mock-echo-status", "400")]),
            ]
            for (path, headers) in cases {
                let reply = try await Self.send(client, node, .GET, path, headers: headers + [("x-mock-gzip", "always"), ("Accept-Encoding", "gzip")])
                #expect(reply.headers.first(name: "content-encoding") == nil, "\(path): the client gets identity bytes")
                try KeyLeakCheck.expectNoKey(in: reply, keys: Self.allKeys, "\(path) \(headers) gzipped regardless")
            }
        }
    }

    /// Fails on the code before issue 16: the redirect's body repeated the URL with the injected `?api_key=`.
    @Test(arguments: ["308", "302"])
    func redirectsRepeatNoKey(status: String) async throws {
        try await Self.withNode { node, client in
            let reply = try await Self.send(client, node, .GET, "/proxy/gq/items?page=2", headers: [("x-mock-redirect", status)])
            #expect(reply.status == Int(status)!)
            #expect(reply.headers.first(name: "location")?.hasPrefix("/api/items?page=2&api_key=") == true, "\(reply.headers)")
            #expect(reply.text.contains("/api/items?page=2"), "the body repeats the URL: \(reply.text)")
            try KeyLeakCheck.expectNoKey(in: reply, keys: Self.allKeys, "\(status) redirect")
        }
    }

    /// Fails on the code before issue 16: TRACE was forwarded with the key and the echo came back.
    @Test func traceIsRefusedAndNeverForwarded() async throws {
        try await Self.withNode { node, client in
            let before = node.mockState.recordedRequests.count
            for path in ["/proxy/gq/echo", "/proxy/gh/echo", "/llm/llm/v1/echo"] {
                let reply = try await Self.send(client, node, .TRACE, path)
                #expect(reply.status == 405, "\(path): \(reply.text)")
                #expect(try reply.object()["error"] != nil, "a JSON error body")
                try KeyLeakCheck.expectNoKey(in: reply, keys: Self.allKeys, "TRACE \(path)")
            }
            #expect(node.mockState.recordedRequests.count == before, "nothing reached the upstream")
        }
    }

    /// Fails on the code before issue 16: the 1 MiB cut came before scrubbing, so a key across it kept all but its
    /// last character.
    @Test func theErrorBodyCutComesAfterScrubbing() async throws {
        try await Self.withNode { node, client in
            let key = Self.headerKey
            let offset = (1 << 20) - (key.utf8.count - 1)
            let reply = try await Self.send(client, node, .GET, "/proxy/gh/echo", headers: [("x-mock-echo-status", "400"), ("x-mock-echo-key-at", String(offset))])
            #expect(reply.status == 400)
            #expect(reply.body.readableBytes == 1 << 20, "cut at 1 MiB")
            #expect(!reply.text.contains(String(key.dropLast())), "the key's first \(key.count - 1) characters at the cut")
            #expect(reply.text.hasSuffix("REDACTED" + String(repeating: "*", count: key.utf8.count - 9)), "\(reply.text.suffix(40))")
        }
    }

    /// Fails on the code before issue 16: a body `api_key` beside a header key, and `?key=` on a non-Gemini config,
    /// went to the provider.
    @Test func theClientsProxyKeyNeverReachesTheProvider() async throws {
        try await Self.withNode { node, client in
            let proxyKey = TestNode.proxyKey
            let inBody = try await Self.send(client, node, .POST, "/llm/llm/v1/chat/completions?key=\(proxyKey)&trace=1",
                                             body: #"{"model":"m","api_key":"\#(proxyKey)","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(inBody.status == 200, "\(inBody.text)")
            let sent = try #require(node.mockState.recordedRequests.last)
            #expect(!sent.bodyText.contains(proxyKey), "\(sent.bodyText)")
            #expect(!sent.path.contains(proxyKey), "\(sent.path)")
            #expect(sent.path.hasSuffix("?trace=1"), "other parameters pass: \(sent.path)")
            _ = try await Self.send(client, node, .GET, "/proxy/gh/items?token=\(proxyKey)")
            let generic = try #require(node.mockState.recordedRequests.last)
            #expect(!generic.path.contains(proxyKey), "\(generic.path)")
            #expect(!generic.headers.contains { $0.value.contains(proxyKey) })
        }
    }

    /// Fails on the code before issue 16: the client's model went into the Gemini upstream's path unencoded.
    @Test func modelNamesCannotChangeTheUpstreamPath() async throws {
        try await Self.withNode { node, client in
            let id = try await node.createConfig(slug: "gm", format: "gemini_native", base: node.mock.baseURL, extra: #","output_format":"openai""#)
            try await node.addKeys(configID: id, ["gm-leak-0001-abcdefghijklmnop"])
            let before = node.mockState.recordedRequests.count
            for model in ["../../v1/files?x=", "a?key=b", "a#b", "a/b", "%2e%2e", ".."] {
                let reply = try await Self.send(client, node, .POST, "/llm/gm/v1/chat/completions",
                                                body: #"{"model":"\#(model)","messages":[{"role":"user","content":"hi"}]}"#)
                #expect(reply.status == 400, "\(model): \(reply.text)")
                let message = (try reply.object()["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.contains("'\(model)'"), "the 400 names the model: \(message)")
            }
            #expect(node.mockState.recordedRequests.count == before, "no request left for a hostile model name")
            let good = try await Self.send(client, node, .POST, "/llm/gm/v1/chat/completions",
                                           body: #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(good.status == 200, "\(good.text)")
            #expect(node.mockState.recordedRequests.last?.path == "/v1beta/models/gemini-2.5-flash:generateContent")
        }
    }
}
