import KeyCoordination
import Testing

/// The behaviour every `LoginAttemptLimiter` must show, written once; run against the in-memory limiter and
/// against Redis, each with a clock the test moves.
struct LoginLimiterHarness {
    let limiter: any LoginAttemptLimiter
    let advance: @Sendable (Double) async -> Void

    /// 3 attempts per address, 5 per user name, locks of at most 60 s, forgotten after 600 s.
    static let policy = LoginThrottlePolicy(freeAttemptsPerAddress: 3, freeAttemptsPerUser: 5, maximumLockSeconds: 60, memorySeconds: 600)
}

enum LoginLimiterBehaviour {
    static func locksAnAddressAndBacksOff(_ h: LoginLimiterHarness) async {
        for _ in 0..<3 { #expect(await h.limiter.admit(address: "10.0.0.1", username: "a") == .allowed) }
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "b") == .throttled(retryAfter: 1))
        #expect(await h.limiter.admit(address: "10.0.0.2", username: "c") == .allowed, "other addresses are not affected")
        await h.advance(1)
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "d") == .allowed)
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "e") == .throttled(retryAfter: 2))
        await h.advance(2)
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "f") == .allowed)
        #expect(await h.limiter.admit(address: "10.0.0.1", username: "g") == .throttled(retryAfter: 4))
    }

    /// A guess spread over many addresses meets the user name's own limit.
    static func locksAUserNameAcrossAddresses(_ h: LoginLimiterHarness) async {
        for index in 0..<5 { #expect(await h.limiter.admit(address: "10.1.0.\(index)", username: "admin") == .allowed) }
        #expect(await h.limiter.admit(address: "10.1.0.99", username: "admin") == .throttled(retryAfter: 1))
        #expect(await h.limiter.admit(address: "10.1.0.99", username: "someone") == .allowed)
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
            for index in 0..<40 {
                group.addTask { await h.limiter.admit(address: "10.4.0.1", username: "user\(index)") == .allowed }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(allowed == 3)
    }
}
