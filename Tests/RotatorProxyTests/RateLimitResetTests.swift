import Foundation
import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Testing
@testable import UpstreamProviders

@Suite struct RateLimitResetTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    private func seconds(_ pairs: [(String, String)], body: String? = nil) -> Double? {
        var headers = HTTPHeaders()
        for (name, value) in pairs { headers.add(name: name, value: value) }
        // The body is read as the classifier reads it: once, into `ProviderError`.
        return RateLimitReset.seconds(headers: headers, retryDelay: body.flatMap { ProviderError(body: ByteBuffer(string: $0)) }?.retryDelay, now: now)
    }

    @Test func retryAfterSecondsAndDate() {
        #expect(seconds([("Retry-After", "17")]) == 17)
        #expect(seconds([("retry-after-ms", "1500")]) == 1.5)
        #expect(seconds([("Retry-After", "Tue, 14 Nov 2023 22:14:20 GMT")]) == 60)
        #expect(seconds([("Retry-After", "soon")]) == nil)
    }

    @Test func openAIResetDurations() {
        #expect(seconds([("x-ratelimit-reset-requests", "6m0s"), ("x-ratelimit-reset-tokens", "20ms")]) == 360)
        #expect(RateLimitReset.duration("1h2m3.5s") == 3723.5)
        #expect(RateLimitReset.duration("250ms") == 0.25)
        #expect(RateLimitReset.duration("abc") == nil)
    }

    @Test func epochReset() {
        #expect(seconds([("X-RateLimit-Reset", "1700000030000")]) == 30)
        #expect(seconds([("X-RateLimit-Reset", "1700000012")]) == 12)
        #expect(seconds([("X-RateLimit-Reset", "5")]) == 5)
    }

    @Test func anthropicResetTimestamp() {
        #expect(seconds([("anthropic-ratelimit-requests-reset", "2023-11-14T22:13:40Z")]) == 20)
    }

    @Test func geminiRetryInfo() {
        let body = """
        {"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[
        {"@type":"type.googleapis.com/google.rpc.QuotaFailure"},
        {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"31s"}]}}
        """
        #expect(seconds([], body: body) == 31)
        #expect(seconds([], body: "not json") == nil)
    }

    /// NaN, infinity, negative, non-decimal or absurd hints fall back to the default (nil), whatever header says them.
    @Test(arguments: ["nan", "NaN", "inf", "infinity", "-infinity", "-5", "1e400", "1e3", "0x10", "+3", " 3 4", "99999999", "5.", ".5", ""])
    func rejectsImplausibleHints(value: String) {
        #expect(seconds([("Retry-After", value)]) == nil, "Retry-After: \(value)")
        #expect(seconds([("retry-after-ms", value)]) == nil, "retry-after-ms: \(value)")
        #expect(seconds([("x-ratelimit-reset-requests", value)]) == nil, "x-ratelimit-reset-requests: \(value)")
        #expect(seconds([("X-RateLimit-Reset", value)]) == nil, "X-RateLimit-Reset: \(value)")
    }

    @Test func implausibleDatesAndDurationsFallBack() {
        #expect(seconds([("Retry-After", "Fri, 14 Nov 2025 22:13:20 GMT")]) == nil, "two years ahead")
        #expect(seconds([("Retry-After", "Mon, 13 Nov 2023 22:13:20 GMT")]) == 0, "already past: now")
        #expect(seconds([("x-ratelimit-reset-tokens", "48h")]) == nil)
        #expect(seconds([("x-ratelimit-reset-tokens", "-1s")]) == nil)
        #expect(seconds([("X-RateLimit-Reset", "1800000000")]) == nil, "an epoch three years ahead")
        #expect(seconds([("anthropic-ratelimit-tokens-reset", "2030-01-01T00:00:00Z")]) == nil)
        #expect(seconds([], body: #"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"-3s"}]}}"#) == nil)
        #expect(seconds([], body: #"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"nans"}]}}"#) == nil)
    }

    @Test func anImplausibleSignalGivesWayToAPlausibleOne() {
        #expect(seconds([("retry-after-ms", "nan"), ("Retry-After", "9")]) == 9)
        #expect(seconds([("Retry-After", "-1"), ("x-ratelimit-reset-requests", "4s")]) == 4)
        #expect(seconds([("x-ratelimit-reset-requests", "inf"), ("x-ratelimit-reset-tokens", "2s")]) == 2)
        #expect(RateLimitReset.plausible(86_400) == 86_400)
        #expect(RateLimitReset.plausible(86_401) == nil)
    }
}
