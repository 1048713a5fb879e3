import Foundation
import Testing

@testable import MockUpstream

@Suite("Mock upstream state, without sockets")
struct MockUpstreamStateTests {
    @Test func failureInjectionRepeatsForTheSameSeed() {
        func outcomes(seed: UInt64) -> [Int] {
            let state = MockUpstreamState(defaultProfile: KeyProfile(failureStatus: 503, failureRate: 0.5), seed: seed)
            return (0..<200).map { _ in state.admit(key: "sk-k", forcedStatus: nil, record: nil).outcome.status }
        }
        let first = outcomes(seed: 42)
        #expect(first == outcomes(seed: 42))
        #expect(first != outcomes(seed: 43))
        let failures = first.filter { $0 == 503 }.count
        #expect((60...140).contains(failures))
    }

    @Test func tokenBucketRefillsAtItsRate() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(rate: 2, now: start)
        #expect(bucket.take(now: start) == nil)
        #expect(bucket.take(now: start) == nil)
        #expect(bucket.take(now: start) == 1)
        #expect(bucket.take(now: start + .milliseconds(500)) == nil)
        #expect(bucket.take(now: start + .milliseconds(500)) == 1)
    }

    @Test func stormEndsOnItsOwn() {
        let state = MockUpstreamState()
        let now = ContinuousClock.now
        state.setGlobalRateLimit(until: now + .seconds(3))
        #expect(state.admit(key: "k", forcedStatus: nil, record: nil, now: now).outcome == .rateLimited(retryAfterSeconds: 3, accountWide: true))
        #expect(state.admit(key: "k", forcedStatus: nil, record: nil, now: now + .seconds(4)).outcome == .serve)
    }

    @Test func recentRequestsKeepsTheLastOnesOldestFirst() {
        var recent = RecentRequests(limit: 3)
        for index in 1...5 {
            recent.append(RecordedRequest(method: "GET", path: "/\(index)", headers: [], body: [], key: nil))
        }
        #expect(recent.all.map(\.path) == ["/3", "/4", "/5"])
    }

    @Test func httpDateIsIMFFixdate() {
        #expect(HTTPDate.string(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.string(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.string(epochSeconds: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
    }

    @Test func resetRestoresTheInitialProfiles() {
        let state = MockUpstreamState(profiles: ["a": KeyProfile(revoked: true)])
        state.setProfile(nil, forKey: "a")
        state.setProfile(KeyProfile(revoked: true), forKey: "b")
        state.reset()
        #expect(state.profile(forKey: "a").revoked)
        #expect(!state.profile(forKey: "b").revoked)
    }

    @Test func profileJSONNeedsOnlyTheFieldsThatDiffer() throws {
        let profile = try JSONDecoder().decode(KeyProfile.self, from: Data(#"{"failureStatus":500}"#.utf8))
        #expect(profile == KeyProfile(failureStatus: 500, failureRate: 1))
    }
}
