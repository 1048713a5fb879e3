import AsyncHTTPClient
import Foundation
import MockUpstream
import NIOCore
import NIOHTTP1
import Testing

/// The client-facing edges: authentication, formats, streaming, SSRF, sizes, headers.
@Suite(.serialized) struct ProxyEdgeTests {
    @Test func clientAuthentication() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "auth")
            try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-auth"))
            let missing = try await node.proxy("auth", headers: [])
            #expect(missing.status == 401)
            // OpenAI's own shape for a refused key: `invalid_request_error` with code `invalid_api_key`.
            let missingError = try missing.object()["error"] as? [String: Any]
            #expect(missingError?["type"] as? String == "invalid_request_error")
            #expect(missingError?["code"] as? String == "invalid_api_key")
            #expect(try await node.proxy("auth", headers: [("Authorization", "Bearer wrong")]).status == 401)
            #expect(try await node.proxy("auth", headers: [("X-Proxy-Key", TestNode.proxyKey)]).status == 200)
            // The key in the JSON body is accepted and removed before forwarding.
            let inBody = try await node.proxy(
                "auth", body: #"{"model":"m","api_key":"\#(TestNode.proxyKey)","messages":[{"role":"user","content":"hi"}]}"#, headers: [])
            #expect(inBody.status == 200)
            let forwarded = try #require(node.mockState.recordedRequests.last)
            #expect(!forwarded.bodyText.contains("api_key"))
            #expect(node.mockState.totalCounters().requests == 2, "unauthenticated requests never reach the upstream")
        }
    }

    @Test func credentialsAreReplacedWithTheRealKey() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "strip")
            let key = sampleKeys(1, prefix: "sk-strip")[0]
            try await node.addKeys(configID: id, [key])
            let reply = try await node.proxy("strip", headers: [
                ("Authorization", "Bearer \(TestNode.proxyKey)"), ("X-Proxy-Key", TestNode.proxyKey), ("x-api-key", TestNode.proxyKey),
                ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"), ("X-Request-ID", "client-chosen-id-1"), ("X-Custom", "kept"),
            ])
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "x-request-id") == "client-chosen-id-1")
            let forwarded = try #require(node.mockState.recordedRequests.last)
            #expect(forwarded.headers(named: "authorization") == ["Bearer \(key)"])
            #expect(forwarded.header("x-proxy-key") == nil)
            #expect(forwarded.header("x-api-key") == nil)
            #expect(forwarded.header("x-hop") == nil)
            #expect(forwarded.header("x-custom") == "kept")
            #expect(forwarded.header("x-request-id") == "client-chosen-id-1")
            #expect(!forwarded.headers.contains { $0.value.contains(TestNode.proxyKey) })
            #expect(forwarded.path == "/v1/chat/completions", "duplicated /v1 collapsed")
        }
    }

    @Test func anthropicAndGeminiNativeClients() async throws {
        try await withRunningNode { node in
            let anthropic = try await node.createConfig(slug: "claude", format: "anthropic_native")
            let anthropicKey = sampleKeys(1, prefix: "sk-ant")[0]
            try await node.addKeys(configID: anthropic, [anthropicKey])
            let message = try await node.proxy("claude", "/v1/messages", body: #"{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
                                              headers: [("x-api-key", TestNode.proxyKey), ("anthropic-version", "2023-06-01")])
            #expect(message.status == 200, "\(message.text)")
            let sent = try #require(node.mockState.recordedRequests.last)
            #expect(sent.header("x-api-key") == anthropicKey)
            #expect(sent.header("anthropic-version") == "2023-06-01")
            #expect(sent.header("authorization") == nil)
            let rejected = try await node.proxy("claude", "/v1/messages", headers: [("x-api-key", "wrong")])
            #expect(rejected.status == 401)
            #expect(try rejected.object()["type"] as? String == "error")

            let gemini = try await node.createConfig(slug: "gemini", format: "gemini_native", base: node.mock.baseURL)
            let geminiKey = sampleKeys(1, prefix: "gm")[0]
            try await node.addKeys(configID: gemini, [geminiKey])
            let generated = try await node.send(.POST, "/llm/gemini/v1beta/models/gemini-pro:generateContent?key=\(TestNode.proxyKey)&alt=json",
                                                body: #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#)
            #expect(generated.status == 200, "\(generated.text)")
            let geminiSent = try #require(node.mockState.recordedRequests.last)
            #expect(geminiSent.header("x-goog-api-key") == geminiKey)
            #expect(geminiSent.path == "/v1beta/models/gemini-pro:generateContent?alt=json", "the client's ?key= is not forwarded")
            let badGemini = try await node.send(.POST, "/llm/gemini/v1beta/models/x:generateContent?key=wrong", body: "{}")
            #expect(badGemini.status == 401)
            #expect((try badGemini.object()["error"] as? [String: Any])?["status"] as? String == "UNAUTHENTICATED")
        }
    }

    @Test func genericRESTConfigs() async throws {
        try await withRunningNode { node in
            let headerConfig = try await node.admin(.POST, "/admin/proxy-configs", body: """
                {"name":"svc","slug":"svc","config_type":"generic","target_url":"\(node.mock.baseURL)/api","api_key_location":"header","api_key_name":"X-Api-Key","method":"GET"}
                """)
            #expect(headerConfig.status == 201, "\(headerConfig.text)")
            let headerID = try #require(try headerConfig.object()["id"] as? Int)
            try await node.addKeys(configID: headerID, ["svc-key-0123456789abcdef"])
            let ok = try await node.send(.GET, "/proxy/svc/items/42?x=1", headers: [("X-Proxy-Key", TestNode.proxyKey)])
            #expect(ok.status == 200, "\(ok.text)")
            let sent = try #require(node.mockState.recordedRequests.last)
            #expect(sent.path == "/api/items/42?x=1")
            #expect(sent.header("x-api-key") == "svc-key-0123456789abcdef")
            let wrongMethod = try await node.send(.POST, "/proxy/svc/items", headers: [("X-Proxy-Key", TestNode.proxyKey)], body: "{}")
            #expect(wrongMethod.status == 405)
            #expect(try await node.send(.GET, "/proxy/svc/items").status == 401)

            let queryConfig = try await node.admin(.POST, "/admin/proxy-configs", body: """
                {"name":"q","slug":"q","config_type":"generic","target_url":"\(node.mock.baseURL)","api_key_location":"query","api_key_name":"api_key"}
                """)
            let queryID = try #require(try queryConfig.object()["id"] as? Int)
            try await node.addKeys(configID: queryID, ["query-key-0123456789abcdef"])
            let viaQuery = try await node.send(.GET, "/proxy/q/search?term=a&api_key=client-junk", headers: [("X-Proxy-Key", TestNode.proxyKey)])
            #expect(viaQuery.status == 200)
            let querySent = try #require(node.mockState.recordedRequests.last)
            #expect(querySent.path == "/search?term=a&api_key=query-key-0123456789abcdef")
            // Routing an llm slug under /proxy (and back) is a clear 404.
            #expect(try await node.send(.GET, "/llm/q/x", headers: [("X-Proxy-Key", TestNode.proxyKey)]).status == 404)
        }
    }

    @Test func ssrfAttemptsNeverLeaveTheConfiguredHost() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "ssrf")
            try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-ssrf"))
            for rest in ["/@evil.com/", "//evil.com/x", "/..%2f..%2fadmin", "/http://evil.com/", "/%2F%2Fevil.com", "/../../etc/passwd"] {
                let before = node.mockState.recordedRequests.count
                let reply = try await node.proxy("ssrf", rest)
                // Either refused (400) or sent to the mock, never elsewhere.
                if reply.status == 400 { continue }
                #expect(reply.status == 200, "\(rest): \(reply.status) \(reply.text)")
                let sent = try #require(node.mockState.recordedRequests.last)
                #expect(node.mockState.recordedRequests.count == before + 1 || node.mockState.recordedRequests.count == 200)
                #expect(sent.path.hasPrefix("/v1/"), "\(rest) reached \(sent.path)")
            }
        }
    }

    @Test func oversizeBodiesAre413BeforeAnythingIsSent() async throws {
        try await withRunningNode(environment: ["MAX_BODY_BYTES": "1024"]) { node in
            let id = try await node.createConfig(slug: "big")
            try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-big"))
            let big = String(repeating: "x", count: 4096)
            let reply = try await node.proxy("big", body: #"{"model":"m","pad":"\#(big)"}"#)
            #expect(reply.status == 413)
            #expect((try reply.object()["error"] as? [String: Any])?["code"] as? String == "request_too_large")
            #expect(node.mockState.totalCounters().requests == 0)
        }
    }

    @Test func unknownAndInactiveSlugsAre404() async throws {
        try await withRunningNode { node in
            #expect(try await node.proxy("nope").status == 404)
            let id = try await node.createConfig(slug: "off")
            try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-off"))
            #expect(try await node.proxy("off").status == 200)
            let status = try await node.admin(.PUT, "/admin/proxy-configs/\(id)/status", body: #"{"is_active":false}"#)
            #expect(status.status == 200)
            let reply = try await node.proxy("off")
            #expect(reply.status == 404)
            #expect(reply.text.contains("inactive"))
        }
    }

    /// A JSON answer is read whole before it is sent; one that breaks off is retried like a transport error (nothing
    /// has reached the client), and once retries are spent the client gets a clear 502, never a truncated 200.
    @Test func anAnswerThatBreaksOffIsRetriedThen502() async throws {
        try await withRunningNode { node in
            let upstream = try await TruncatingUpstream.start()
            try await upstream.whileRunning { upstream in
                let id = try await node.createConfig(slug: "truncated", base: upstream.baseURL + "/v1")
                try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-trunc"))
                let reply = try await node.proxy("truncated")
                #expect(reply.status == 502, "\(reply.status): \(reply.text)")
                let message = (try reply.object()["error"] as? [String: Any])?["message"] as? String
                #expect(message?.contains("broke off after 12 of \(TruncatingUpstream.declaredLength) bytes") == true, "\(reply.text)")
                #expect(upstream.requests == 1 + 3, "the first attempt and MAX_RETRIES (3) retries")

                // A whole answer of declared length passes unchanged, length included.
                let whole = try await node.createConfig(slug: "whole")
                try await node.addKeys(configID: whole, sampleKeys(1, prefix: "sk-whole"))
                let served = try await node.proxy("whole")
                #expect(served.status == 200)
                #expect(served.headers.first(name: "content-length") == String(served.body.readableBytes))
                #expect(try served.object()["object"] as? String == "chat.completion")
            }
        }
    }

    @Test func sseChunksArriveAsTheUpstreamSendsThem() async throws {
        let state = MockUpstreamState(settings: MockUpstreamSettings(chunks: 5, chunkDelayMilliseconds: 300))
        try await withRunningNode(mockState: state) { node in
            let id = try await node.createConfig(slug: "stream")
            try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-stream"))
            // On a raw connection whose reads are timed on its event loop as the bytes come in: a busy machine may
            // run this task late, which must not look like an answer the node held back.
            let body = #"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
            let connection = try await ClientLimitTests.RawConnection.open(port: node.port)
            defer { connection.channel.close(promise: nil) }
            let started = ContinuousClock.now
            try await connection.send("""
                POST /llm/stream/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestNode.proxyKey)\r\n\
                Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)
                """)
            #expect(await connection.waitUntil(within: .seconds(30)) { $0.text.contains("data: [DONE]") }, "\(connection.text.suffix(300))")
            #expect(connection.text.lowercased().contains("content-type: text/event-stream"), "\(connection.text.prefix(300))")
            let events = connection.timedReads.filter { $0.text.contains("data: ") }
            let first = try #require(events.first).at - started
            let total = try #require(events.last).at - started
            print("SSE through the rotator: first chunk after \(first), stream done after \(total), \(events.count) reads")
            #expect(first < total - .milliseconds(600), "the first event reached the client long before the stream ended")
            #expect(events.count >= 4, "events were not merged into one buffered body")
        }
    }

    @Test func gracefulShutdownLetsAStreamFinish() async throws {
        let state = MockUpstreamState(settings: MockUpstreamSettings(chunks: 6, chunkDelayMilliseconds: 200))
        try await withRunningNode(mockState: state) { node in
            let id = try await node.createConfig(slug: "drain")
            try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-drain"))
            var request = HTTPClientRequest(url: node.baseURL + "/llm/drain/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(TestNode.proxyKey)")
            request.body = .bytes(ByteBuffer(string: #"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            var text = ""
            var shutdownTriggered = false
            for try await chunk in response.body {
                text += String(buffer: chunk)
                if !shutdownTriggered {
                    shutdownTriggered = true
                    await node.triggerShutdown()
                }
            }
            #expect(text.contains("data: [DONE]"), "the in-flight stream completed during shutdown")
        }
    }
}
