import Foundation
import RotatorAdmin
import Testing

@Suite struct LoginThrottleTests {
    @Test func locksAfterRepeatedFailuresAndBacksOff() {
        let throttle = LoginThrottle(freeAttempts: 3, maximumLockSeconds: 60)
        let now = Date()
        for _ in 0..<2 { throttle.recordFailure(for: "1.2.3.4", now: now) }
        #expect(throttle.waitTime(for: "1.2.3.4", now: now) == nil)
        throttle.recordFailure(for: "1.2.3.4", now: now)
        #expect(throttle.waitTime(for: "1.2.3.4", now: now) == 1)
        throttle.recordFailure(for: "1.2.3.4", now: now)
        #expect(throttle.waitTime(for: "1.2.3.4", now: now) == 2)
        #expect(throttle.waitTime(for: "5.6.7.8", now: now) == nil, "other clients are not affected")
        throttle.recordSuccess(for: "1.2.3.4")
        #expect(throttle.waitTime(for: "1.2.3.4", now: now) == nil)
    }

    @Test func lockIsCapped() {
        let throttle = LoginThrottle(freeAttempts: 1, maximumLockSeconds: 10)
        let now = Date()
        for _ in 0..<30 { throttle.recordFailure(for: "a", now: now) }
        #expect(throttle.waitTime(for: "a", now: now) == 10)
    }
}
