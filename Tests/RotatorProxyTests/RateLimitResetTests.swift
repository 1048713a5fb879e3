import Foundation
import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Testing

@Suite struct RateLimitResetTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    private func seconds(_ pairs: [(String, String)], body: String? = nil) -> Double? {
        var headers = HTTPHeaders()
        for (name, value) in pairs { headers.add(name: name, value: value) }
        return RateLimitReset.seconds(headers: headers, body: body.map { ByteBuffer(string: $0) }, now: now)
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
}
