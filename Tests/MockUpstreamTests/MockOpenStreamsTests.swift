import AsyncHTTPClient
import Foundation
import MockUpstream
import NIOCore
import Testing

/// The mock counts streamed answers in progress (now, at most at once, started), overall and per key, so a test can
/// tell how many upstream streams a relay held open at once.
@Suite("Mock upstream open streams")
struct MockOpenStreamsTests {
    /// A streamed answer held open: its first chunk has arrived, the rest is read by `finish()`.
    struct HeldStream {
        var iterator: HTTPClientResponse.Body.AsyncIterator
        var firstChunk: String

        mutating func finish() async throws -> String {
            var text = firstChunk
            while let buffer = try await iterator.next() { text += String(buffer: buffer) }
            return text
        }
    }

    static func open(_ mock: MockUpstreamFixture, key: String, headers: [(String, String)] = [],
                     path: String = "/v1/chat/completions", body: String = MockUpstreamFixture.streamedChatBody) async throws -> HeldStream {
        // Anthropic and Gemini streams carry their key in their own header (given in `headers`), OpenAI's as a Bearer.
        let ownHeader = headers.contains { ["x-api-key", "x-goog-api-key"].contains($0.0) }
        let request = mock.request("POST", path, headers: (ownHeader ? [] : [("Authorization", "Bearer \(key)")]) + headers, body: body)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        #expect(response.status.code == 200)
        var iterator = response.body.makeAsyncIterator()
        let first = try #require(try await iterator.next(), "the stream sends its first chunk at once")
        return HeldStream(iterator: iterator, firstChunk: String(buffer: first))
    }

    @Test func countsStreamsOpenNowAndAtMostAtOncePerKey() async throws {
        // Key a is slow by its profile, key b by the request's own headers: each stream lasts 10 s, far longer than
        // opening the five takes even on a machine busy with a parallel test run, so all five are open at once.
        let state = MockUpstreamState(profiles: ["sk-slow-aaaa": KeyProfile(streamChunks: 2, chunkDelayMilliseconds: 5000)])
        try await MockUpstreamFixture.run(state) { mock in
            var held: [HeldStream] = []
            for _ in 0..<3 { held.append(try await Self.open(mock, key: "sk-slow-aaaa")) }
            for _ in 0..<2 {
                held.append(try await Self.open(mock, key: "sk-slow-bbbb", headers: [("x-mock-chunks", "2"), ("x-mock-chunk-delay-ms", "5000")]))
            }
            // A first chunk received means its stream is counted (the count goes up before the first byte goes out).
            var streams = state.openStreams()
            #expect(streams.overall == StreamCounts(open: 5, peak: 5, started: 5))
            #expect(streams.counts(forKey: "sk-slow-aaaa") == StreamCounts(open: 3, peak: 3, started: 3))
            #expect(streams.counts(forKey: "sk-slow-bbbb") == StreamCounts(open: 2, peak: 2, started: 2))

            // A whole answer is no stream.
            #expect(try await mock.chat(key: "sk-slow-aaaa").status == 200)
            #expect(state.openStreams().overall.started == 5)

            // The control API says the same.
            let control = try await mock.send("GET", "/__mock/streams")
            #expect(control.status == 200)
            #expect(control.json.object("overall")["open"] as? Int == 5, "\(control.body)")
            #expect(control.json.object("keys").object("sk-slow-bbbb")["peak"] as? Int == 2, "\(control.body)")

            // A stream counts as closed before its end reaches the client: once read to the end, it is no longer open
            // (the others run on by themselves, so they may have ended too).
            for index in held.indices {
                let text = try await held[index].finish()
                #expect(text.hasSuffix("data: [DONE]\n\n"))
                #expect(state.openStreams().overall.open <= held.count - 1 - index)
            }
            streams = state.openStreams()
            #expect(streams.overall == StreamCounts(open: 0, peak: 5, started: 5))
            #expect(streams.counts(forKey: "sk-slow-aaaa") == StreamCounts(open: 0, peak: 3, started: 3))

            // Another one alone (a key without delays): the peak stays what it was.
            var again = try await Self.open(mock, key: "sk-quick-cccc")
            _ = try await again.finish()
            #expect(state.openStreams().overall == StreamCounts(open: 0, peak: 5, started: 6))
        }
    }

    @Test func everyProvidersStreamIsCounted() async throws {
        // Each stream lasts 10 s, far longer than opening the four takes on a busy machine: they are open at once.
        let state = MockUpstreamState(settings: MockUpstreamSettings(chunks: 2, chunkDelayMilliseconds: 5000))
        try await MockUpstreamFixture.run(state) { mock in
            var held: [HeldStream] = [
                try await Self.open(mock, key: "sk-openai-0001"),
                try await Self.open(mock, key: "sk-openai-0001", path: "/v1/responses",
                                    body: #"{"model":"gpt-test","stream":true,"input":"hi"}"#),
                try await Self.open(mock, key: "sk-ant-0001", headers: [("x-api-key", "sk-ant-0001"), MockUpstreamFixture.anthropicVersion],
                                    path: "/v1/messages", body: MockUpstreamFixture.streamedMessagesBody),
                try await Self.open(mock, key: "gm-key-0001", headers: [("x-goog-api-key", "gm-key-0001")],
                                    path: "/v1beta/models/gemini-test:streamGenerateContent?alt=sse", body: MockUpstreamFixture.geminiBody),
            ]
            #expect(state.openStreams().overall == StreamCounts(open: 4, peak: 4, started: 4))
            for index in held.indices { _ = try await held[index].finish() }
            #expect(state.openStreams().overall.open == 0)
            #expect(state.openStreams().counts(forKey: "gm-key-0001").started == 1)
        }
    }

    @Test func resetClearsTheCountsAndStreamsOpenBeforeItDoNotCountDownAfter() async throws {
        let state = MockUpstreamState(settings: MockUpstreamSettings(chunks: 3, chunkDelayMilliseconds: 100))
        try await MockUpstreamFixture.run(state) { mock in
            var before = try await Self.open(mock, key: "sk-reset-0001")
            #expect(try await mock.send("POST", "/__mock/reset").status == 200)
            #expect(state.openStreams() == OpenStreams())
            // 3 s long: still open when the one from before the reset has ended.
            var after = try await Self.open(mock, key: "sk-reset-0001", headers: [("x-mock-chunk-delay-ms", "1500")])
            _ = try await before.finish()
            #expect(state.openStreams().overall == StreamCounts(open: 1, peak: 1, started: 1), "the stream from before the reset is not counted down")
            _ = try await after.finish()
            #expect(state.openStreams().overall == StreamCounts(open: 0, peak: 1, started: 1))
        }
    }

    @Test func aClientThatLeavesMidStreamClosesItsStream() async throws {
        let state = MockUpstreamState(settings: MockUpstreamSettings(chunks: 50, chunkDelayMilliseconds: 50))
        try await MockUpstreamFixture.run(state) { mock in
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                let request = mock.request("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer sk-leave-0001")],
                                           body: MockUpstreamFixture.streamedChatBody)
                let response = try await client.execute(request, timeout: .seconds(30))
                var iterator = response.body.makeAsyncIterator()
                _ = try await iterator.next()
                #expect(state.openStreams().overall.open == 1)
            }
            // Shutting the client down closes its connection mid-stream; the mock sees it at its next write.
            try await client.shutdown()
            let deadline = ContinuousClock.now + .seconds(10)
            while state.openStreams().overall.open > 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(state.openStreams().overall == StreamCounts(open: 0, peak: 1, started: 1))
        }
    }
}
