import ClientAccess
import Foundation
import Testing

/// One quota under test with the clock it reads, and each operation awaited until it has taken effect.
struct QuotaHarness {
    let quota: any ClientQuota
    let clock: ManualClock
    let admit: @Sendable (QuotaRequest) async -> QuotaDecision
    /// nil tokens: release.
    let settle: @Sendable (QuotaTicket, Int64?) async -> Void
    let renew: @Sendable (QuotaTicket) async -> Void

    func advance(_ seconds: Double) { clock.advance(by: seconds) }
}

/// Builds a fresh quota whose clock starts at the given Unix time.
typealias QuotaHarnessFactory = @Sendable (_ start: Double) async -> QuotaHarness

/// The behaviour every `ClientQuota` shares (memory and Redis run the same functions).
enum QuotaBehaviour {
    /// 2026-12-07T12:00:00Z: mid-day, mid-month.
    static let midDay: Double = 1_796_644_800

    private static let counter = Counter()

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }

    static func request(_ key: Int64, _ limits: ClientKeyLimits, tokens: Int64 = 0) -> QuotaRequest {
        QuotaRequest(clientKey: key, limits: limits, reservedTokens: tokens, lease: "req-\(counter.next())")
    }

    @discardableResult
    static func admitted(_ harness: QuotaHarness, _ request: QuotaRequest, sourceLocation: SourceLocation = #_sourceLocation) async -> QuotaTicket? {
        let decision = await harness.admit(request)
        guard case .admitted(let ticket, _) = decision else {
            Issue.record("expected an admission, got \(decision)", sourceLocation: sourceLocation)
            return nil
        }
        return ticket
    }

    static func refused(
        _ harness: QuotaHarness, _ request: QuotaRequest, _ limit: QuotaLimit, retryAfter: Double?, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        let decision = await harness.admit(request)
        guard case .refused(let refused, let value, let wait, _) = decision else {
            Issue.record("expected a refusal by \(limit), got \(decision)", sourceLocation: sourceLocation)
            return
        }
        #expect(refused == limit, sourceLocation: sourceLocation)
        #expect(value == request.limits[limit], sourceLocation: sourceLocation)
        switch (wait, retryAfter) {
        case (nil, nil): break
        case (let wait?, let expected?): #expect(abs(wait - expected) < 0.001, "retryAfter \(wait), expected \(expected)", sourceLocation: sourceLocation)
        default: Issue.record("retryAfter \(String(describing: wait)), expected \(String(describing: retryAfter))", sourceLocation: sourceLocation)
        }
    }

    /// rpm refuses at the exact count; an admission 59 s old still counts, one 60 s old frees its slot.
    static func rpmRollsOverSixtySeconds(_ make: QuotaHarnessFactory) async {
        let harness = await make(midDay)
        let limits = ClientKeyLimits(rpm: 3)
        for _ in 0..<3 {
            await admitted(harness, request(1, limits))
            harness.advance(1)
        }
        // now = start + 3; the oldest admission (start) frees at start + 60.
        await refused(harness, request(1, limits), .rpm, retryAfter: 57)
        harness.advance(56)
        await refused(harness, request(1, limits), .rpm, retryAfter: 1)
        harness.advance(1)
        await admitted(harness, request(1, limits))
        await refused(harness, request(1, limits), .rpm, retryAfter: 1)
    }

    /// Concurrency refuses at the limit; a settle frees a slot; leases end by themselves unless renewed.
    static func concurrencyLeasesExpireUnlessRenewed(_ make: QuotaHarnessFactory) async {
        let harness = await make(midDay)
        let limits = ClientKeyLimits(maxConcurrent: 2)
        guard let first = await admitted(harness, request(2, limits)) else { return }
        await admitted(harness, request(2, limits))
        await refused(harness, request(2, limits), .concurrent, retryAfter: QuotaRetry.concurrency)
        await harness.settle(first, 10)
        await admitted(harness, request(2, limits))
        await refused(harness, request(2, limits), .concurrent, retryAfter: 1)
        harness.advance(QuotaLease.seconds - 0.25)
        await refused(harness, request(2, limits), .concurrent, retryAfter: 0.25)
        harness.advance(0.25)
        // No renewal: both leases have ended.
        await admitted(harness, request(2, limits))
        await admitted(harness, request(2, limits))

        let one = ClientKeyLimits(maxConcurrent: 1)
        guard let long = await admitted(harness, request(3, one)) else { return }
        harness.advance(20)
        await harness.renew(long)
        harness.advance(20)
        await refused(harness, request(3, one), .concurrent, retryAfter: 1)
        harness.advance(10)
        await admitted(harness, request(3, one))
        // A lease that already ended is not revived by a late renewal.
        await harness.renew(long)
        await refused(harness, request(3, one), .concurrent, retryAfter: 1)
    }

    /// A day's budget refuses at the exact count until the next UTC midnight.
    static func dailyBudgetRollsOverAtUTCMidnight(_ make: QuotaHarnessFactory) async {
        let harness = await make(midDay + 12 * 3600 - 60)  // 23:59:00Z
        let limits = ClientKeyLimits(dailyRequests: 2)
        await admitted(harness, request(4, limits))
        await admitted(harness, request(4, limits))
        await refused(harness, request(4, limits), .dailyRequests, retryAfter: 60)
        harness.advance(59)
        await refused(harness, request(4, limits), .dailyRequests, retryAfter: 1)
        harness.advance(1)
        await admitted(harness, request(4, limits))
        await admitted(harness, request(4, limits))
        await refused(harness, request(4, limits), .dailyRequests, retryAfter: 86_400)
    }

    /// A month's budget frees at the next month's first UTC midnight (a new year too); far from it, no retryAfter.
    static func monthlyBudgetRollsOverAtMonthStart(_ make: QuotaHarnessFactory) async {
        let harness = await make(1_798_761_570)  // 2026-12-31T23:59:30Z
        let limits = ClientKeyLimits(monthlyRequests: 1, monthlyTokens: 50)
        await admitted(harness, request(5, limits, tokens: 10))
        await refused(harness, request(5, limits), .monthlyRequests, retryAfter: 30)
        harness.advance(30)  // 2027-01-01T00:00:00Z
        await admitted(harness, request(5, limits, tokens: 10))
        harness.advance(3600)
        await refused(harness, request(5, limits), .monthlyRequests, retryAfter: nil)

        let tokens = ClientKeyLimits(monthlyTokens: 50)
        await admitted(harness, request(6, tokens, tokens: 50))
        await refused(harness, request(6, tokens), .monthlyTokens, retryAfter: nil)
    }

    /// Reservations count while in flight; a settle replaces them with what was used, down and up.
    static func reservationsAreCountedThenSettled(_ make: QuotaHarnessFactory) async {
        let harness = await make(midDay)
        let limits = ClientKeyLimits(dailyTokens: 1000)
        guard let first = await admitted(harness, request(7, limits, tokens: 600)) else { return }
        // 600 < 1000: admitted whatever it reserves.
        guard let second = await admitted(harness, request(7, limits, tokens: 600)) else { return }
        await refused(harness, request(7, limits, tokens: 1), .dailyTokens, retryAfter: 12 * 3600)
        await harness.settle(first, 100)  // 100 + 600 = 700
        guard let third = await admitted(harness, request(7, limits, tokens: 200)) else { return }  // 900
        await harness.settle(second, 800)  // 100 + 800 + 200 = 1100
        await refused(harness, request(7, limits), .dailyTokens, retryAfter: 12 * 3600)
        await harness.settle(third, 0)  // 900
        let states = await harness.quota.states(clientKey: 7, limits: limits)
        #expect(states == [LimitState(limit: .dailyTokens, value: 1000, remaining: 100, resetSeconds: 12 * 3600)])
        await admitted(harness, request(7, limits))
    }

    /// tpm: tokens counted at their admission time for 60 s; retryAfter is when enough of them have left.
    static func tokensPerMinuteRoll(_ make: QuotaHarnessFactory) async {
        let harness = await make(midDay)
        let limits = ClientKeyLimits(tpm: 100)
        guard let first = await admitted(harness, request(8, limits, tokens: 80)) else { return }
        harness.advance(10)
        await admitted(harness, request(8, limits, tokens: 30))  // 110
        // Without the first (80) the rest is 30 < 100: frees when the first is 60 s old.
        await refused(harness, request(8, limits, tokens: 5), .tpm, retryAfter: 50)
        await harness.settle(first, 10)  // 40
        await admitted(harness, request(8, limits, tokens: 70))  // 110
        harness.advance(50)  // the first (10) leaves: 100, still full
        await refused(harness, request(8, limits), .tpm, retryAfter: 10)
        harness.advance(10)  // the rest leave
        await admitted(harness, request(8, limits, tokens: 5))
    }

    /// A release gives back everything the admission took.
    static func releaseGivesEverythingBack(_ make: QuotaHarnessFactory) async {
        let harness = await make(midDay)
        let limits = ClientKeyLimits(
            rpm: 1, tpm: 10, maxConcurrent: 1, dailyRequests: 1, monthlyRequests: 1, dailyTokens: 10, monthlyTokens: 10
        )
        guard let ticket = await admitted(harness, request(9, limits, tokens: 10)) else { return }
        // Every limit is full now; the first in QuotaLimit order answers.
        await refused(harness, request(9, limits), .rpm, retryAfter: 60)
        let full = await harness.quota.states(clientKey: 9, limits: limits)
        #expect(full.map(\.remaining) == [0, 0, 0, 0, 0, 0, 0], "\(full)")
        await harness.settle(ticket, nil)
        let states = await harness.quota.states(clientKey: 9, limits: limits)
        #expect(states.map(\.limit) == QuotaLimit.allCases)
        #expect(states.map(\.remaining) == [1, 10, 1, 1, 1, 10, 10], "\(states)")
        await admitted(harness, request(9, limits, tokens: 10))
    }

    /// Releases and settles out of admission order each touch their own admission: the middle one's release frees its
    /// request slot and its tokens, the first one's settle changes only its own tokens.
    static func releaseAndSettleFindTheirOwnAdmission(_ make: QuotaHarnessFactory) async {
        let harness = await make(midDay)
        let limits = ClientKeyLimits(rpm: 3, tpm: 1000)
        guard let first = await admitted(harness, request(11, limits, tokens: 100)) else { return }
        harness.advance(1)
        guard let second = await admitted(harness, request(11, limits, tokens: 200)) else { return }
        harness.advance(1)
        guard let third = await admitted(harness, request(11, limits, tokens: 300)) else { return }
        await harness.settle(second, nil)
        var states = await harness.quota.states(clientKey: 11, limits: limits)
        #expect(states.map(\.remaining) == [1, 600], "\(states)")
        await harness.settle(first, 40)
        states = await harness.quota.states(clientKey: 11, limits: limits)
        #expect(states.map(\.remaining) == [1, 660], "\(states)")
        await harness.settle(third, 10)
        states = await harness.quota.states(clientKey: 11, limits: limits)
        #expect(states.map(\.remaining) == [1, 950], "\(states)")
        // The first admission leaves the rpm window 60 s after it came; its 40 tokens leave tpm with it.
        harness.advance(58.5)
        states = await harness.quota.states(clientKey: 11, limits: limits)
        #expect(states.map(\.remaining) == [2, 990], "\(states)")
    }

    /// The refusal names the first full limit in QuotaLimit order; states show each configured limit.
    static func statesShowEveryConfiguredLimit(_ make: QuotaHarnessFactory) async {
        let harness = await make(midDay)
        let limits = ClientKeyLimits(rpm: 5, maxConcurrent: 1, dailyRequests: 10)
        let decision = await harness.admit(request(10, limits))
        guard case .admitted(_, let states) = decision else {
            Issue.record("\(decision)")
            return
        }
        #expect(states == [
            LimitState(limit: .rpm, value: 5, remaining: 4, resetSeconds: 60),
            LimitState(limit: .concurrent, value: 1, remaining: 0, resetSeconds: QuotaLease.seconds),
            LimitState(limit: .dailyRequests, value: 10, remaining: 9, resetSeconds: 12 * 3600),
        ])
        harness.advance(15)
        let refusal = await harness.admit(request(10, limits))
        guard case .refused(.concurrent, 1, let wait, let refusedStates) = refusal else {
            Issue.record("\(refusal)")
            return
        }
        #expect(wait == 1)
        #expect(refusedStates.map(\.remaining) == [4, 0, 9])
        #expect(refusedStates.map(\.resetSeconds) == [45, 15, 12 * 3600 - 15])
        // A key with no traffic: everything remains.
        let fresh = await harness.quota.states(clientKey: 11, limits: limits)
        #expect(fresh.map(\.remaining) == [5, 1, 10])
    }
}
