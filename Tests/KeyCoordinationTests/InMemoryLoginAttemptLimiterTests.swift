import KeyCoordination
import Testing

@Suite struct InMemoryLoginAttemptLimiterTests {
    private func harness() -> LoginLimiterHarness {
        let clock = ManualClock()
        return LoginLimiterHarness(
            limiter: InMemoryLoginAttemptLimiter(policy: LoginLimiterHarness.policy, clock: clock), advance: { clock.advance(by: $0) }
        )
    }

    @Test func locksAClientAndBacksOff() async { await LoginLimiterBehaviour.locksAClientAndBacksOff(harness()) }
    @Test func slowsAUserNameWithoutLockingItOut() async { await LoginLimiterBehaviour.slowsAUserNameWithoutLockingItOut(harness()) }
    @Test func successClearsBoth() async { await LoginLimiterBehaviour.successClearsBoth(harness()) }
    @Test func locksAreCappedAndForgotten() async { await LoginLimiterBehaviour.locksAreCappedAndForgotten(harness()) }
    @Test func concurrentGuessesMeetTheLimit() async { await LoginLimiterBehaviour.concurrentGuessesMeetTheLimit(harness()) }

    /// However many addresses and names a client makes up, the records stay within their bound, and a subject
    /// that is locked out survives the eviction of the others: a flood cannot clear its own lock.
    @Test func memoryIsBounded() async {
        let clock = ManualClock()
        let limiter = InMemoryLoginAttemptLimiter(policy: LoginLimiterHarness.policy, clock: clock, maximumRecords: 500)
        for _ in 0..<3 { _ = await limiter.admit(address: "10.9.9.9", username: "admin") }
        for index in 0..<5_000 {
            clock.advance(by: 0.0001)  // 0.5 s in all: within the 1 s lock
            _ = await limiter.admit(address: "addr-\(index)", username: "name-\(index)")
            #expect(limiter.recordCount <= 500)
        }
        #expect(await limiter.admit(address: "10.9.9.9", username: "admin") != .allowed)
    }
}

@Suite struct InMemoryTokenRevocationListTests {
    @Test func revocationsExpireWithTheirTokens() async {
        let clock = ManualClock()
        let list = InMemoryTokenRevocationList(clock: clock, maximumEntries: 3)
        await list.revoke(id: "a", expiresAt: clock.now() + 10)
        #expect(await list.isRevoked(id: "a"))
        clock.advance(by: 11)
        #expect(await list.isRevoked(id: "a") == false, "past its expiry the token is refused anyway")
        for id in ["b", "c", "d", "e"] { await list.revoke(id: id, expiresAt: clock.now() + 60) }
        #expect(await list.isRevoked(id: "e"), "the newest revocation is kept within the bound")
    }
}
