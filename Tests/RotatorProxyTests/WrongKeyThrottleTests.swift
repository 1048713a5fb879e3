import RotatorProxy
import Synchronization
import Testing

@Suite struct WrongKeyThrottleTests {
    @Test func aWindowCountsThenRefusesUntilItEnds() {
        var window = WrongKeyWindow()
        for second in UInt32(10)..<13 { window = window.counting(now: second, window: 60) }
        #expect(window == WrongKeyWindow(start: 10, count: 3))
        #expect(window.retryAfter(now: 13, limit: 4, window: 60) == nil, "under the limit")
        window = window.counting(now: 20, window: 60)
        #expect(window.retryAfter(now: 20, limit: 4, window: 60) == 50)
        #expect(window.retryAfter(now: 69, limit: 4, window: 60) == 1)
        #expect(window.retryAfter(now: 70, limit: 4, window: 60) == nil, "the window ended")
        #expect(window.counting(now: 70, window: 60) == WrongKeyWindow(start: 70, count: 1), "a new window starts afresh")
        #expect(WrongKeyWindow(packed: window.packed) == window)
    }

    @Test func anAddressIsRefusedAfterItsLimitAndOthersAreNot() {
        let now = Mutex<UInt32>(100)
        let throttle = WrongKeyThrottle(limit: 3, windowSeconds: 60, clock: { now.withLock { $0 } })
        for _ in 0..<2 { throttle.recordWrongKey(address: "198.51.100.7") }
        #expect(throttle.retryAfter(address: "198.51.100.7") == nil)
        throttle.recordWrongKey(address: "198.51.100.7")
        #expect(throttle.retryAfter(address: "198.51.100.7") == 60)
        for index in 0..<200 { #expect(throttle.retryAfter(address: "203.0.113.\(index)") == nil, "an address that sent no wrong key") }
        now.withLock { $0 += 59 }
        #expect(throttle.retryAfter(address: "198.51.100.7") == 1)
        now.withLock { $0 += 1 }
        #expect(throttle.retryAfter(address: "198.51.100.7") == nil)
        #expect(WrongKeyThrottle(limit: 0).retryAfter(address: "198.51.100.7") == nil)
    }

    /// Many guessing addresses at once in a small table: an address that sent nothing is refused only when both of
    /// its slots collide with guessers', which the two hashes make rare.
    @Test func collisionsRarelyRefuseInnocentAddresses() {
        let throttle = WrongKeyThrottle(limit: 2, windowSeconds: 60, slotCount: 1024, clock: { 1 })
        for index in 0..<100 {
            throttle.recordWrongKey(address: "10.0.0.\(index)")
            throttle.recordWrongKey(address: "10.0.0.\(index)")
        }
        let refused = (0..<1000).filter { throttle.retryAfter(address: "172.16.\($0 / 250).\($0 % 250)") != nil }.count
        #expect(refused < 20, "\(refused) of 1000 innocent addresses refused")
    }

    /// Counting from many threads loses no count (compare-and-swap, no lock).
    @Test func concurrentCountsAreNotLost() async {
        let throttle = WrongKeyThrottle(limit: 400, windowSeconds: 60, clock: { 1 })
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { for _ in 0..<50 { throttle.recordWrongKey(address: "198.51.100.1") } } }
        }
        #expect(throttle.retryAfter(address: "198.51.100.1") == 60)
    }
}
