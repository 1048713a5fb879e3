import Synchronization
import Testing
import TrafficStats

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let seconds: Mutex<Double>
    init(_ start: Double) { seconds = Mutex(start) }
    func now() -> Double { seconds.withLock { $0 } }
    func advance(_ delta: Double) { seconds.withLock { $0 += delta } }
}

@Suite struct TrafficStatsTests {
    @Test func countsPerMinuteAndKeepsOnlyTheLastHour() throws {
        let clock = ManualClock(60 * 1_000_000 + 5)
        let stats = TrafficStats(clock: clock.now)
        stats.recordRequest(config: 1, status: 200, addedNanoseconds: 300_000)
        stats.recordRequest(config: 1, status: 503, addedNanoseconds: 900_000)
        stats.recordUpstreamFailure(config: 1, key: 7)
        stats.recordRateLimit(config: 1, key: 8, seconds: 30, source: .providerHint)
        clock.advance(60)
        stats.recordRequest(config: 1, status: 200, addedNanoseconds: 200_000)
        stats.recordRequest(config: 2, status: 200, addedNanoseconds: 200_000)

        var traffic = stats.traffic(config: 1)
        #expect(traffic.minutes.count == 60)
        #expect(traffic.minutes.last == 1_000_001)
        let previous = traffic.counters[58], current = traffic.counters[59]
        #expect(previous.requests == 2)
        #expect(previous.clientErrors == 1)
        #expect(previous.upstreamErrors == 1)
        #expect(previous.rateLimited == 1)
        #expect(current.requests == 1)
        #expect(current.clientErrors == 0)
        #expect(traffic.keys[7]?.errors[58] == 1)
        #expect(traffic.keys[8]?.events.first?.kind == .rateLimited)
        let until = try #require(traffic.keys[8]?.events.first?.until)
        #expect(abs(until - 60_000_035) < 0.001, "\(until)")
        #expect(stats.traffic(config: 2).counters[59].requests == 1, "configs are counted apart")

        // An hour later the old minutes have left the window; the ring slot of minute 1 000 000 is reused.
        clock.advance(3600)
        stats.recordRequest(config: 1, status: 200, addedNanoseconds: 100_000)
        traffic = stats.traffic(config: 1)
        #expect(traffic.counters.map(\.requests).reduce(0, +) == 1)
        #expect(traffic.keys[8]?.events.isEmpty ?? true, "events older than an hour are not shown")
    }

    @Test func medianAddedLatencyComesFromTheHistogram() throws {
        let clock = ManualClock(600)
        let stats = TrafficStats(clock: clock.now)
        for _ in 0..<9 { stats.recordRequest(config: 1, status: 200, addedNanoseconds: 1_000_000) }
        stats.recordRequest(config: 1, status: 200, addedNanoseconds: 50_000_000)
        let median = try #require(stats.traffic(config: 1).counters[59].medianAddedLatencyMilliseconds)
        // 1 ms falls in the bucket (0.8, 1.13] ms; the median lies inside it.
        #expect(median > 0.8 && median <= 1.14, "\(median)")
        #expect(MinuteCounters().medianAddedLatencyMilliseconds == nil)
    }

    @Test func histogramBucketsAreOrderedAndCoverEveryDuration() {
        #expect(LatencyHistogram.upperBounds.count == LatencyHistogram.bucketCount - 1)
        #expect(zip(LatencyHistogram.upperBounds, LatencyHistogram.upperBounds.dropFirst()).allSatisfy { $0 < $1 })
        #expect(LatencyHistogram.bucket(nanoseconds: 0) == 0)
        #expect(LatencyHistogram.bucket(nanoseconds: 50_000) == 0)
        #expect(LatencyHistogram.bucket(nanoseconds: 50_001) == 1)
        #expect(LatencyHistogram.bucket(nanoseconds: .max) == LatencyHistogram.bucketCount - 1)
    }

    @Test func drainReturnsOnlyWhatIsNewAndSumsBackToTheTotals() {
        let clock = ManualClock(6000)
        let stats = TrafficStats(clock: clock.now)
        stats.recordRequest(config: 3, status: 200, addedNanoseconds: 10)
        stats.recordKeyUse(config: 3, key: 1)
        var first = stats.drainUnpushed()
        #expect(first.deltas.count == 1)
        #expect(first.deltas[0].counters.requests == 1)
        #expect(first.deltas[0].keys.map(\.id) == [1])
        #expect(stats.drainUnpushed().deltas.isEmpty, "nothing new, nothing to push")

        stats.recordRequest(config: 3, status: 429, addedNanoseconds: 10)
        stats.recordRejection(config: 3, key: 1, status: 401, message: "bad key", quarantinedUntil: 6002, invalidated: false)
        first = stats.drainUnpushed()
        #expect(first.deltas.count == 1)
        #expect(first.deltas[0].counters.requests == 1)
        #expect(first.deltas[0].counters.clientErrors == 1)
        #expect(first.deltas[0].keys.first?.errors == 1)
        #expect(first.deltas[0].keys.first?.uses == 0)
        #expect(first.events.map(\.event.kind) == [.quarantined])
        #expect(stats.drainUnpushed().events.isEmpty, "an event is pushed once")
        // The node's own view still has everything.
        #expect(stats.traffic(config: 3).counters[59].requests == 2)
    }

    @Test func idleConfigsAreForgotten() {
        let clock = ManualClock(6000)
        let stats = TrafficStats(clock: clock.now)
        stats.recordKeyUse(config: 9, key: 1)
        clock.advance(2 * 3600)
        _ = stats.drainUnpushed()
        #expect(stats.traffic(config: 9).keys.isEmpty)
        #expect(stats.recentEvents(config: 9).isEmpty)
    }

    @Test func theCoordinatorsVerdictAmendsTheRejection() {
        let clock = ManualClock(6000)
        let stats = TrafficStats(clock: clock.now)
        stats.recordRejection(config: 1, key: 5, status: 401, message: "bad", quarantinedUntil: nil, invalidated: false)
        stats.amendRejection(config: 1, key: 5, quarantinedUntil: 6002, invalidated: false)
        stats.recordRejection(config: 1, key: 5, status: 401, message: "bad", quarantinedUntil: nil, invalidated: false)
        stats.amendRejection(config: 1, key: 5, quarantinedUntil: nil, invalidated: true)
        let events = stats.recentEvents(config: 1)[5] ?? []
        #expect(events.map(\.kind) == [.quarantined, .invalidated])
        #expect(events.map(\.until) == [6002, nil])
        #expect(stats.drainUnpushed().events.map(\.event) == events, "the pushed events carry the verdict too")
    }

    @Test func latestEventExplainsTheKey() {
        let clock = ManualClock(6000)
        let stats = TrafficStats(clock: clock.now)
        stats.recordRateLimit(config: 1, key: 5, seconds: 60, source: .defaultCooldown)
        stats.recordRejection(config: 1, key: 5, status: 401, message: "Incorrect API key", quarantinedUntil: nil, invalidated: true)
        let events = stats.recentEvents(config: 1)[5] ?? []
        #expect(events.map(\.kind) == [.rateLimited, .invalidated])
        let latest = events.last
        #expect(latest?.kind == .invalidated)
        #expect(latest?.message == "Incorrect API key")
        #expect(latest?.until == nil)
    }
}

@Suite struct ProviderMessageTests {
    @Test func readsTheMessageOfEachProviderShape() {
        let openAI = #"{"error":{"message":"Incorrect API key provided: sk-te...mnop.","type":"invalid_request_error","code":"invalid_api_key"}}"#
        #expect(ProviderMessage.extract(from: Array(openAI.utf8), secret: nil) == "Incorrect API key provided: sk-te...mnop.")
        let anthropic = #"{"type":"error","error":{"type":"authentication_error", "message" : "invalid x-api-key"}}"#
        #expect(ProviderMessage.extract(from: Array(anthropic.utf8), secret: nil) == "invalid x-api-key")
        let gemini = #"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.\n\u00e9","status":"INVALID_ARGUMENT"}}"#
        #expect(ProviderMessage.extract(from: Array(gemini.utf8), secret: nil) == "API key not valid. Please pass a valid API key. é")
        #expect(ProviderMessage.extract(from: Array("upstream exploded".utf8), secret: nil) == nil)
        #expect(ProviderMessage.extract(from: Array(#"{"message": 5}"#.utf8), secret: nil) == nil)
    }

    @Test func neverShowsTheKeyOrAnythingLikeOne() throws {
        let secret = "sk-live-0123456789abcdefghij"
        let body = #"{"error":{"message":"key \#(secret) is revoked; also tried AIzaSyA1234567890abcdefghijklmnop"}}"#
        let message = try #require(ProviderMessage.extract(from: Array(body.utf8), secret: secret))
        #expect(!message.contains(secret))
        #expect(!message.contains("AIzaSyA1234567890abcdefghijklmnop"))
        #expect(message == "key [key] is revoked; also tried [redacted]")
        // Short keys are removed too, even though they do not look like one.
        #expect(ProviderMessage.scrub("bad key abcd1234", secret: "abcd1234") == "bad key [key]")
        let long = String(repeating: "word ", count: 100)
        #expect(ProviderMessage.scrub(long, secret: nil).count == ProviderMessage.maximumLength)
    }
}
