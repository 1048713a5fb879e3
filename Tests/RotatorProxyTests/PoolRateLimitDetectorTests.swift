@testable import RotatorProxy
import Testing

@Suite struct PoolRateLimitDetectorTests {
    @Test func mostKeysLimitedWithinTheWindowCoolThePool() {
        var detector = PoolRateLimitDetector()
        #expect(detector.rateLimited(key: 1, cooldown: 30, request: "a", poolSize: 4, now: 100) == nil)
        #expect(detector.rateLimited(key: 2, cooldown: 20, request: "b", poolSize: 4, now: 101) == nil, "half is not most")
        let verdict = detector.rateLimited(key: 3, cooldown: 40, request: "c", poolSize: 4, now: 102)
        #expect(verdict == .init(seconds: 28, reason: "3 of 4 keys rate limited within 10 s"), "the median of the keys' remaining waits (19, 28, 40)")
        #expect(detector.rateLimitedKeys == 0, "one episode, one verdict")
    }

    @Test func oldSightingsFallOutOfTheWindow() {
        var detector = PoolRateLimitDetector()
        _ = detector.rateLimited(key: 1, cooldown: 30, request: "a", poolSize: 3, now: 100)
        #expect(detector.rateLimited(key: 2, cooldown: 30, request: "b", poolSize: 3, now: 111) == nil)
        #expect(detector.rateLimitedKeys == 1)
    }

    @Test func oneRequestCannotBenchThePool() {
        var detector = PoolRateLimitDetector()
        for key in Int64(1)...4 {
            #expect(detector.rateLimited(key: key, cooldown: 30, request: "the-same", poolSize: 4, now: 100) == nil)
        }
        #expect(detector.rateLimited(key: 1, cooldown: 30, request: "another", poolSize: 4, now: 101) != nil)
    }

    @Test func aServingKeyIsNotLimited() {
        var detector = PoolRateLimitDetector()
        _ = detector.rateLimited(key: 1, cooldown: 30, request: "a", poolSize: 3, now: 100)
        detector.served(key: 1)
        #expect(detector.rateLimited(key: 2, cooldown: 30, request: "b", poolSize: 3, now: 101) == nil)
    }

    @Test func aPoolOfOneIsNeverCooledAsAPool() {
        var detector = PoolRateLimitDetector()
        #expect(detector.rateLimited(key: 1, cooldown: 30, request: "a", poolSize: 1, now: 100) == nil)
        #expect(detector.rateLimited(key: 1, cooldown: 30, request: "b", poolSize: 1, now: 101) == nil)
    }
}

@Suite struct PoolRateLimitWatchTests {
    @Test func keepsOneDetectorPerPool() {
        let watch = PoolRateLimitWatch()
        #expect(watch.rateLimited(pool: 1, key: 1, cooldown: 30, request: "a", poolSize: 2, now: 100) == nil)
        // Another pool's answers do not count towards pool 1.
        #expect(watch.rateLimited(pool: 2, key: 2, cooldown: 30, request: "b", poolSize: 2, now: 100) == nil)
        #expect(watch.rateLimited(pool: 1, key: 2, cooldown: 30, request: "b", poolSize: 2, now: 101) != nil)
        watch.served(pool: 2, key: 2)
        #expect(watch.rateLimited(pool: 2, key: 1, cooldown: 30, request: "c", poolSize: 2, now: 101) == nil, "key 2 served: one limited key is no majority")
        watch.forget(pool: 2)
    }
}
