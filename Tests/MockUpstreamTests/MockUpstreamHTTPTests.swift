import AsyncHTTPClient
import Foundation
import MockUpstream
import Testing

@Suite("Mock upstream over HTTP")
struct MockUpstreamHTTPTests {
    @Test func chatCompletionNamesTheKeyThatServedIt() async throws {
        try await MockUpstreamFixture.run { mock in
            for path in ["/v1/chat/completions", "/api/v1/chat/completions"] {
                let response = try await mock.send("POST", path, headers: [("Authorization", "Bearer sk-live-abcd")], body: MockUpstreamFixture.chatBody)
                #expect(response.status == 200)
                #expect(response.header("content-type") == "application/json")
                #expect(response.header("x-mock-served-by") == "...abcd")
                let json = response.json
                #expect(json.string("object") == "chat.completion")
                #expect(json.string("model") == "gpt-test")
                let message = ((json["choices"] as? [[String: Any]])?.first ?? [:]).object("message")
                #expect(message.string("content") == "served by key ...abcd")
            }
        }
    }

    @Test func streamedChunksArriveAsSeparateReadsSpacedInTime() async throws {
        try await MockUpstreamFixture.run { mock in
            let request = mock.request(
                "POST", "/v1/chat/completions",
                headers: [("Authorization", "Bearer sk-live-abcd"), ("x-mock-chunks", "3"), ("x-mock-chunk-delay-ms", "100")],
                body: MockUpstreamFixture.streamedChatBody
            )
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            #expect(response.status.code == 200)
            #expect(response.headers.first(name: "content-type") == "text/event-stream")

            let start = ContinuousClock.now
            var reads: [(at: Duration, text: String)] = []
            for try await buffer in response.body {
                reads.append((ContinuousClock.now - start, String(decoding: buffer.readableBytesView, as: UTF8.self)))
            }
            // 3 chunk events, each flushed on its own 100 ms apart, then [DONE] (which may share the last read).
            try #require(reads.count >= 3, "reads: \(reads.map(\.text))")
            for read in reads.prefix(3) {
                #expect(read.text.hasPrefix("data: {"))
                #expect(read.text.components(separatedBy: "chat.completion.chunk").count == 2)
            }
            #expect(reads.map(\.text).joined().hasSuffix("data: [DONE]\n\n"))
            // Loose on purpose (2 shared cores): the three events span about 200 ms, never one burst.
            #expect(reads[2].at - reads[0].at >= .milliseconds(120), "spread \(reads[2].at - reads[0].at)")
        }
    }

    @Test func revokedAndMissingKeysAre401InProviderShape() async throws {
        let state = MockUpstreamState(profiles: ["sk-gone-0001": KeyProfile(revoked: true)])
        try await MockUpstreamFixture.run(state) { mock in
            let revoked = try await mock.chat(key: "sk-gone-0001")
            #expect(revoked.status == 401)
            #expect(revoked.json.object("error").string("code") == "invalid_api_key")

            let missing = try await mock.send("POST", "/v1/chat/completions", body: "{}")
            #expect(missing.status == 401)

            let anthropic = try await mock.send("POST", "/v1/messages", headers: [("x-api-key", "sk-gone-0001")], body: "{}")
            #expect(anthropic.status == 401)
            #expect(anthropic.json.string("type") == "error")
            #expect(anthropic.json.object("error").string("type") == "authentication_error")

            #expect(state.counters(forKey: "sk-gone-0001").unauthorized == 2)
            #expect(state.counters()[MockUpstreamState.missingKeyLabel]?.unauthorized == 1)
        }
    }

    @Test func emptyTokenBucketAnswers429WithRetryAfter() async throws {
        let state = MockUpstreamState(profiles: ["sk-slow-0002": KeyProfile(rateLimitPerSecond: 0.01)])
        try await MockUpstreamFixture.run(state) { mock in
            #expect(try await mock.chat(key: "sk-slow-0002").status == 200)
            let limited = try await mock.chat(key: "sk-slow-0002")
            #expect(limited.status == 429)
            // 0.01 tokens/s: the next token is 100 s after the first call, however slowly this machine sent the second.
            let retryAfter = try #require(limited.header("retry-after").flatMap { Int($0) })
            #expect((60...100).contains(retryAfter), "\(retryAfter)")
            #expect(limited.json.object("error").string("code") == "rate_limit_exceeded")
            // Other keys have their own bucket.
            #expect(try await mock.chat(key: "sk-fast-0003").status == 200)
        }
    }

    @Test func stormRateLimitsEveryKeyUntilLifted() async throws {
        try await MockUpstreamFixture.run { mock in
            // Long storms, lifted by hand: a busy machine must not see one end between two requests.
            mock.state.startStorm(seconds: 120)
            for key in ["sk-a-0001", "sk-b-0002"] {
                let response = try await mock.chat(key: key)
                #expect(response.status == 429)
                #expect(Int(response.header("retry-after") ?? "") ?? 0 > 60)
                #expect(response.json.object("error").string("message")?.contains("account") == true)
            }
            mock.state.stopStorm()
            #expect(try await mock.chat(key: "sk-a-0001").status == 200)

            // The same switch over HTTP, for a mock in another process.
            #expect(try await mock.send("POST", "/__mock/storm?seconds=120").status == 200)
            #expect(try await mock.chat(key: "sk-a-0001").status == 429)
            #expect(try await mock.send("POST", "/__mock/storm?seconds=0").status == 200)
            #expect(try await mock.chat(key: "sk-a-0001").status == 200)
        }
    }

    @Test func countersTrackEveryAnswerPerKey() async throws {
        let state = MockUpstreamState(profiles: ["sk-flaky-0004": KeyProfile(failureStatus: 503)])
        try await MockUpstreamFixture.run(state) { mock in
            _ = try await mock.chat(key: "sk-ok-0005")
            _ = try await mock.chat(key: "sk-ok-0005")
            _ = try await mock.chat(key: "sk-ok-0005", headers: [("x-mock-status", "429")])
            let failed = try await mock.chat(key: "sk-flaky-0004")
            #expect(failed.status == 503)
            #expect(failed.json.object("error").string("type") == "server_error")

            var ok = KeyCounters()
            ok.requests = 3
            ok.success = 2
            ok.rateLimited = 1
            var flaky = KeyCounters()
            flaky.requests = 1
            flaky.serverError = 1
            #expect(state.counters() == ["sk-ok-0005": ok, "sk-flaky-0004": flaky])

            let overHTTP = try await mock.send("GET", "/__mock/counters")
            #expect(try JSONDecoder().decode([String: KeyCounters].self, from: Data(overHTTP.body.utf8)) == state.counters())

            #expect(try await mock.send("POST", "/__mock/reset").status == 200)
            #expect(state.counters().isEmpty)
            #expect(state.recordedRequests.isEmpty)
        }
    }

    @Test func recordsWhatWasForwarded() async throws {
        try await MockUpstreamFixture.run { mock in
            _ = try await mock.send(
                "POST", "/proxy/weather/v2/forecast?city=Oslo&api_key=rest-key-7777",
                headers: [("X-Trace", "t-1"), ("Content-Type", "application/json")],
                body: #"{"days":3}"#
            )
            let recorded = try #require(mock.state.recordedRequests.last)
            #expect(recorded.method == "POST")
            #expect(recorded.path == "/proxy/weather/v2/forecast?city=Oslo&api_key=rest-key-7777")
            #expect(recorded.key == "rest-key-7777")
            #expect(recorded.header("x-trace") == "t-1")
            #expect(recorded.header("authorization") == nil)
            #expect(recorded.bodyText == #"{"days":3}"#)
        }
    }

    @Test(arguments: [
        ("/v1/chat/completions", [("Authorization", "Bearer key-bearer-1111")], "1111", MockUpstreamFixture.chatBody),
        ("/v1/messages", [("x-api-key", "key-anthropic-2222"), MockUpstreamFixture.anthropicVersion], "2222", MockUpstreamFixture.messagesBody),
        ("/v1beta/models/gemini-pro:generateContent", [("x-goog-api-key", "key-goog-3333")], "3333", MockUpstreamFixture.geminiBody),
        ("/v1beta/models/gemini-pro:generateContent?key=key-query-4444", [], "4444", MockUpstreamFixture.geminiBody),
        ("/anything", [("X-Api-Key", "key-generic-5555")], "5555", "{}"),
        ("/anything?api_key=key-param-6666", [], "6666", "{}"),
    ])
    func readsTheKeyWhereEachProviderPutsIt(path: String, headers: [(String, String)], suffix: String, body: String) async throws {
        try await MockUpstreamFixture.run { mock in
            let response = try await mock.send("POST", path, headers: headers, body: body)
            #expect(response.status == 200)
            #expect(response.header("x-mock-served-by") == "...\(suffix)")
        }
    }

    @Test func geminiRateLimitCarriesRetryInfoInTheBody() async throws {
        let profile = KeyProfile(forceRateLimitRetryAfter: 2, retryAfterStyle: .geminiRetryInfo)
        let state = MockUpstreamState(profiles: ["gk-limited-8888": profile])
        try await MockUpstreamFixture.run(state) { mock in
            let response = try await mock.send(
                "POST", "/v1beta/models/gemini-pro:generateContent", headers: [("x-goog-api-key", "gk-limited-8888")],
                body: MockUpstreamFixture.geminiBody
            )
            #expect(response.status == 429)
            #expect(response.header("retry-after") == nil)
            let error = response.json.object("error")
            #expect(error["code"] as? Int == 429)
            #expect(error.string("status") == "RESOURCE_EXHAUSTED")
            let details = error["details"] as? [[String: Any]] ?? []
            #expect(details.first?.string("@type") == "type.googleapis.com/google.rpc.RetryInfo")
            #expect(details.first?.string("retryDelay") == "2s")
        }
    }

    @Test func otherRetryStylesUseTheirHeaders() async throws {
        let state = MockUpstreamState(profiles: [
            "sk-openai-0001": KeyProfile(forceRateLimitRetryAfter: 6, retryAfterStyle: .openAIResetHeaders),
            "sk-date-0002": KeyProfile(forceRateLimitRetryAfter: 30, retryAfterStyle: .httpDate),
            "sk-silent-0003": KeyProfile(forceRateLimitRetryAfter: 30, retryAfterStyle: .none),
        ])
        try await MockUpstreamFixture.run(state) { mock in
            let openAI = try await mock.chat(key: "sk-openai-0001")
            #expect(openAI.header("x-ratelimit-reset-requests") == "6s")
            #expect(openAI.header("retry-after") == nil)

            let dated = try await mock.chat(key: "sk-date-0002")
            #expect(dated.header("retry-after")?.hasSuffix(" GMT") == true)

            let silent = try await mock.chat(key: "sk-silent-0003")
            #expect(silent.status == 429)
            #expect(silent.header("retry-after") == nil)
            #expect(silent.header("x-ratelimit-reset-requests") == nil)
        }
    }

    @Test func anthropicStreamFollowsTheEventSequence() async throws {
        let state = MockUpstreamState(settings: MockUpstreamSettings(chunks: 2))
        try await MockUpstreamFixture.run(state) { mock in
            let response = try await mock.send(
                "POST", "/v1/messages", headers: [("x-api-key", "ak-stream-9999"), MockUpstreamFixture.anthropicVersion],
                body: MockUpstreamFixture.streamedMessagesBody
            )
            let events = response.body.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { $0.dropFirst(7) }
            #expect(events == [
                "message_start", "content_block_start", "content_block_delta", "content_block_delta",
                "content_block_stop", "message_delta", "message_stop",
            ])
        }
    }

    @Test func streamShapeComesFromTheKeysProfileUnlessTheRequestSetsIt() async throws {
        let state = MockUpstreamState(
            settings: MockUpstreamSettings(chunks: 2),
            profiles: ["sk-long-0001": KeyProfile(streamChunks: 7, chunkDelayMilliseconds: 0)]
        )
        try await MockUpstreamFixture.run(state) { mock in
            func contentEvents(key: String, headers: [(String, String)] = []) async throws -> Int {
                let response = try await mock.send(
                    "POST", "/v1/chat/completions", headers: [("Authorization", "Bearer \(key)")] + headers,
                    body: MockUpstreamFixture.streamedChatBody
                )
                return response.body.split(separator: "\n").filter { $0.contains(#""content":"#) }.count
            }
            let fromProfile = try await contentEvents(key: "sk-long-0001")
            let fromSettings = try await contentEvents(key: "sk-other-0001")
            let fromRequest = try await contentEvents(key: "sk-long-0001", headers: [("x-mock-chunks", "3")])
            #expect(fromProfile == 7)
            #expect(fromSettings == 2)
            #expect(fromRequest == 3)
        }
    }

    @Test func profilesCanBeScriptedOverHTTP() async throws {
        try await MockUpstreamFixture.run { mock in
            let put = try await mock.send("PUT", "/__mock/profiles/sk-remote-0001", body: #"{"revoked":true}"#)
            #expect(put.status == 200)
            #expect(mock.state.profile(forKey: "sk-remote-0001").revoked)
            #expect(try await mock.chat(key: "sk-remote-0001").status == 401)

            let bad = try await mock.send("PUT", "/__mock/profiles/sk-remote-0001", body: #"{"retryAfterStyle":"sometimes"}"#)
            #expect(bad.status == 400)
        }
    }

    @Test func latencyComesFromTheRequestAndTheKeysProfile() async throws {
        let state = MockUpstreamState(profiles: ["sk-slow-0001": KeyProfile(latencyMilliseconds: 80)])
        try await MockUpstreamFixture.run(state) { mock in
            var start = ContinuousClock.now
            _ = try await mock.chat(key: "sk-any-0002", headers: [("x-mock-latency-ms", "80")])
            #expect(ContinuousClock.now - start >= .milliseconds(80))
            start = ContinuousClock.now
            _ = try await mock.chat(key: "sk-slow-0001")
            #expect(ContinuousClock.now - start >= .milliseconds(80))
        }
    }

    @Test func modelsListTakesTheShapeOfTheCredential() async throws {
        try await MockUpstreamFixture.run { mock in
            let openAI = try await mock.send("GET", "/v1/models", headers: [("Authorization", "Bearer sk-m-0001")])
            #expect(openAI.json.string("object") == "list")
            let gemini = try await mock.send("GET", "/v1beta/models?key=gk-m-0002")
            #expect(gemini.json["models"] is [Any])
            let anthropic = try await mock.send("GET", "/v1/models", headers: [("x-api-key", "ak-m-0003"), ("anthropic-version", "2023-06-01")])
            #expect(anthropic.json["has_more"] as? Bool == false)
        }
    }
}
