import KeyCoordination
import Testing

/// The behaviour every `LoginAttemptLimiter` must show, written once; run against the in-memory limiter and
/// against Redis, each with a clock the test moves.
struct LoginLimiterHarness {
    let limiter: any LoginAttemptLimiter
    let advance: @Sendable (Double) async -> Void

    /// 3 attempts per client (address and user name), 5 per user name, locks of at most 60 s, a user name's delay
    /// of at most 1.5 s, forgotten after 600 s.
    static let policy = LoginThrottlePolicy(
        freeAttemptsPerClient: 3, freeAttemptsPerUser: 5, maximumLockSeconds: 60, maximumUserDelaySeconds: 1.5, memorySeconds: 600
    )
}

enum LoginLimiterBehaviour {
    static func locksAClientAndBacksOff(_ h: LoginLimiterHarness) async {
        for _ in 0..<3 { #expect(await h.limiter.admit(address: "10.0.0.1", username: "a") == .allowed) }
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "a") == .throttled(retryAfter: 1))
        #expect(await h.limiter.admit(address: "10.0.0.2", username: "a") == .allowed, "other addresses are not affected")
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "b") == .allowed, "other user names from this address are not affected")
        await h.advance(1)
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "a") == .allowed)
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "a") == .throttled(retryAfter: 2))
        await h.advance(2)
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "a") == .allowed)
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "a") == .throttled(retryAfter: 4))
    }

    /// A guess spread over many addresses meets the user name's own limit: every further attempt is slowed (at most
    /// the policy's delay), none refused, so the real admin still gets in from an address of its own.
    static func slowsAUserNameWithoutLockingItOut(_ h: LoginLimiterHarness) async {
        for index in 0..<5 { #expect(await h.limiter.admit(address: "10.1.0.\(index)", username: "admin") == .allowed) }
        #expect(await h.limiter.admit(address: "10.1.0.99", username: "admin") == .slowed(delay: 1))
        #expect(await h.limiter.admit(address: "10.1.0.98", username: "admin") == .slowed(delay: 1.5), "the delay is capped")
        #expect(await h.limiter.admit(address: "10.1.0.99", username: "someone") == .allowed)
        for index in 0..<30 {
            #expect(await h.limiter.admit(address: "10.1.1.\(index)", username: "admin") == .slowed(delay: 1.5))
        }
        await h.limiter.succeeded(address: "10.1.2.1", username: "admin")
        #expect(await h.limiter.admit(address: "10.1.2.2", username: "admin") == .allowed, "the admin's success clears the user name")
    }

    static func successClearsBoth(_ h: LoginLimiterHarness) async {
        for _ in 0..<3 { _ = await h.limiter.admit(address: "10.2.0.1", username: "admin") }
        await h.advance(1)
        #expect(await h.limiter.admit(address: "10.2.0.1", username: "admin") == .allowed)
        await h.limiter.succeeded(address: "10.2.0.1", username: "admin")
        for _ in 0..<3 { #expect(await h.limiter.admit(address: "10.2.0.1", username: "admin") == .allowed) }
    }

    static func locksAreCappedAndForgotten(_ h: LoginLimiterHarness) async {
        for _ in 0..<12 {
            _ = await h.limiter.admit(address: "10.3.0.1", username: "x")
            await h.advance(61)
        }
        #expect(await h.limiter.admit(address: "10.3.0.1", username: "x") == .allowed)
        #expect(await h.limiter.admit(address: "10.3.0.1", username: "x") == .throttled(retryAfter: 60))
        await h.advance(601)
        for _ in 0..<3 { #expect(await h.limiter.admit(address: "10.3.0.1", username: "x") == .allowed) }
    }

    /// Check and count are one step: of 40 guesses sent at once, only the free attempts get through.
    static func concurrentGuessesMeetTheLimit(_ h: LoginLimiterHarness) async {
        let allowed = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<40 {
                group.addTask { await h.limiter.admit(address: "10.4.0.1", username: "admin") == .allowed }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(allowed == 3)
    }
}
