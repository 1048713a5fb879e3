import Foundation
import Hummingbird
import LoadDriver
import MockUpstream
import Testing

@Suite struct OpenLoopScheduleTests {
    @Test func requestsAreSpreadEvenlyOverTheRun() {
        let schedule = OpenLoopSchedule(rate: 1000, duration: .seconds(2))
        #expect(schedule.count == 2000)
        #expect(schedule.offset(of: 0) == .zero)
        #expect(schedule.offset(of: 1) == .milliseconds(1))
        #expect(schedule.offset(of: 1999) == .milliseconds(1999))
        #expect(schedule.offset(of: 2000) == nil)
    }

    @Test func fractionalRatesDoNotDrift() {
        let schedule = OpenLoopSchedule(rate: 3, duration: .seconds(10))
        #expect(schedule.count == 30)
        #expect(schedule.offset(of: 29) == .nanoseconds(9_666_666_667))
    }
}

@Suite struct LoadPlanTests {
    @Test func problemsAreNamed() {
        #expect(LoadPlan(label: "x", url: "localhost:1").problem?.contains("http://") == true)
        #expect(LoadPlan(label: "x", url: "http://a", mode: .open).problem?.contains("rate") == true)
        #expect(LoadPlan(label: "x", url: "http://a", connections: 0).problem?.contains("connections") == true)
        #expect(LoadPlan(label: "x", url: "http://a", headers: [["only-name"]]).problem?.contains("pair") == true)
        #expect(LoadPlan(label: "x", url: "http://a", mode: .open, rate: 10).problem == nil)
    }
}

@Suite struct LoadRecorderTests {
    @Test func percentilesStatusesAndTimeline() throws {
        let recorder = LoadRecorder()
        for index in 0..<100 {
            recorder.record(RequestSample(offset: .milliseconds(index * 20), latency: .milliseconds(index + 1), status: index < 90 ? 200 : 503))
        }
        recorder.record(RequestSample(offset: .milliseconds(500), status: 429, retryAfter: 3))
        recorder.record(RequestSample(offset: .milliseconds(600), error: "timeout"))
        recorder.recordDrop(at: .milliseconds(700))
        let result = recorder.result(plan: LoadPlan(label: "t", url: "http://a"), elapsed: .seconds(2))
        #expect(result.requests == 103)
        #expect(result.succeeded == 90)
        #expect(result.statuses == ["200": 90, "503": 10, "429": 1])
        #expect(result.errors == ["timeout": 1, "dropped": 1])
        #expect(result.dropped == 1)
        #expect(abs(result.latency.p50 - 50) < 0.1, "\(result.latency.p50)")
        #expect(abs(result.latency.p99 - 99) < 0.1)
        #expect(result.retryAfter == RetryAfterSummary(count: 1, missing: 0, min: 3, max: 3))
        #expect(result.timeline.map(\.second) == [0, 1])
        #expect(result.timeline[0].requests == 53)
        #expect(result.timeline[1].errors == 10)

        let decoded = try ResultJSON.decode(try ResultJSON.encode(result))
        #expect(decoded == result)
        let text = String(decoding: try ResultJSON.encode(result), as: UTF8.self)
        #expect(text.contains("\"chunks_per_response\"") == false && text.contains("\"retry_after\""))
    }
}

/// The driver against a real mock upstream on loopback.
@Suite(.serialized) struct LoadGeneratorTests {
    static func withMock(_ state: MockUpstreamState = MockUpstreamState(), _ body: (String) async throws -> Void) async throws {
        let mock = try await MockUpstreamServer.start(state: state)
        do {
            try await body("http://127.0.0.1:\(mock.port)")
        } catch {
            await mock.stop()
            throw error
        }
        await mock.stop()
    }

    static let chat = #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#

    @Test func closedLoopKeepsEveryConnectionBusy() async throws {
        // Each answer takes at least 100 ms; every worker sends back to back. Counted, not timed: on a busy machine a
        // worker may start after a short window has passed, so each is asked for two requests whatever the clock says.
        let state = MockUpstreamState(profiles: ["sk-load-0001": KeyProfile(latencyMilliseconds: 100)])
        try await Self.withMock(state) { base in
            let plan = LoadPlan(label: "closed", url: base + "/v1/chat/completions", headers: [["Authorization", "Bearer sk-load-0001"]],
                                body: Self.chat, mode: .closed, connections: 4, duration: 0.3, warmup: 0, minimumRequestsPerConnection: 2)
            let result = try await LoadGenerator(plan: plan).run()
            #expect(result.requests >= 8, "every worker sent at least twice")
            #expect(result.succeeded == result.requests)
            #expect(result.latency.p50 >= 100)
        }
    }

    @Test func openLoopSendsOnScheduleAndCountsEveryAnswer() async throws {
        let state = MockUpstreamState(profiles: ["sk-limited-0001": KeyProfile(rateLimitPerSecond: 5)])
        try await Self.withMock(state) { base in
            let plan = LoadPlan(label: "open", url: base + "/v1/chat/completions", headers: [["Authorization", "Bearer sk-limited-0001"]],
                                body: Self.chat, mode: .open, connections: 100, rate: 100, duration: 1, warmup: 0)
            let result = try await LoadGenerator(plan: plan).run()
            // As many connections as requests: none is dropped, however slowly a busy machine answers.
            #expect(result.requests == 100, "an open loop sends exactly rate × duration")
            #expect(result.count(status: 200) + result.count(status: 429) == 100, "\(result.statuses)")
            // A 5/s bucket that starts full serves at most 5 + 5 per second the run took; the rest is refused.
            #expect(Double(result.count(status: 200)) <= 6 + 5 * result.elapsed, "\(result.statuses) in \(result.elapsed) s")
            #expect(result.retryAfter?.count == result.count(status: 429))
            #expect(result.retryAfter?.min ?? 0 >= 1)
        }
    }

    @Test func streamsReportTimeToFirstByteAndChunkGaps() async throws {
        let state = MockUpstreamState(settings: MockUpstreamSettings(chunks: 5, chunkDelayMilliseconds: 40))
        try await Self.withMock(state) { base in
            let plan = LoadPlan(label: "sse", url: base + "/v1/chat/completions", headers: [["Authorization", "Bearer sk-sse-0001"]],
                                body: #"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#, mode: .closed, connections: 3, duration: 0.6, warmup: 0,
                                stream: true, minimumRequestsPerConnection: 1)
            let result = try await LoadGenerator(plan: plan).run()
            // Lower bounds only: the mock's sleeps guarantee them; a busy machine only makes everything slower.
            let gap = try #require(result.chunkGap)
            #expect(gap.p50 > 25, "chunks arrive about 40 ms apart, not at once: \(gap)")
            let ttfb = try #require(result.ttfb)
            #expect(result.latency.p50 - ttfb.p50 > 100, "the first chunk came well before the end: ttfb \(ttfb.p50), latency \(result.latency.p50)")
            #expect(result.latency.p50 > 150, "a whole stream takes about 5 × 40 ms")
        }
    }

    @Test func anUnreachableTargetIsAnErrorNotACrash() async throws {
        let plan = LoadPlan(label: "down", url: "http://127.0.0.1:1/", method: "GET", mode: .closed, connections: 1, duration: 0.2, warmup: 0,
                            timeout: 1, minimumRequestsPerConnection: 1)
        let result = try await LoadGenerator(plan: plan).run()
        #expect(result.succeeded == 0)
        #expect(result.requests > 0)
        #expect(!result.errors.isEmpty, "\(result.errors)")
    }
}
