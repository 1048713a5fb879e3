import ClientAccess
import Foundation
import Testing

@Suite struct InMemoryClientQuotaTests {
    static let make: QuotaHarnessFactory = { start in
        let clock = ManualClock(start)
        let quota = InMemoryClientQuota(clock: { clock.now() })
        return QuotaHarness(
            quota: quota, clock: clock,
            admit: { request in
                guard let decision = quota.admitImmediately(request) else {
                    Issue.record("the in-memory quota must answer at once")
                    return .refused(limit: .rpm, value: 0, retryAfter: nil, states: [])
                }
                return decision
            },
            settle: { ticket, used in
                if let used { quota.settle(ticket, usedTokens: used) } else { quota.release(ticket) }
            },
            renew: { quota.renew($0) }
        )
    }

    @Test func rpmRollsOverSixtySeconds() async { await QuotaBehaviour.rpmRollsOverSixtySeconds(Self.make) }
    @Test func concurrencyLeasesExpireUnlessRenewed() async { await QuotaBehaviour.concurrencyLeasesExpireUnlessRenewed(Self.make) }
    @Test func dailyBudgetRollsOverAtUTCMidnight() async { await QuotaBehaviour.dailyBudgetRollsOverAtUTCMidnight(Self.make) }
    @Test func monthlyBudgetRollsOverAtMonthStart() async { await QuotaBehaviour.monthlyBudgetRollsOverAtMonthStart(Self.make) }
    @Test func reservationsAreCountedThenSettled() async { await QuotaBehaviour.reservationsAreCountedThenSettled(Self.make) }
    @Test func tokensPerMinuteRoll() async { await QuotaBehaviour.tokensPerMinuteRoll(Self.make) }
    @Test func releaseGivesEverythingBack() async { await QuotaBehaviour.releaseGivesEverythingBack(Self.make) }
    @Test func releaseAndSettleFindTheirOwnAdmission() async { await QuotaBehaviour.releaseAndSettleFindTheirOwnAdmission(Self.make) }
    @Test func statesShowEveryConfiguredLimit() async { await QuotaBehaviour.statesShowEveryConfiguredLimit(Self.make) }

    /// Keys whose windows have all passed are forgotten: memory follows the keys with traffic, not every key ever seen.
    @Test func idleKeysAreForgotten() {
        let clock = ManualClock(QuotaBehaviour.midDay)
        let quota = InMemoryClientQuota(clock: { clock.now() })
        for key in Int64(1)...1000 {
            _ = quota.admitImmediately(QuotaBehaviour.request(key, ClientKeyLimits(rpm: 5, maxConcurrent: 2)))
        }
        #expect(quota.trackedKeys == 1000)
        clock.advance(by: 61)
        _ = quota.admitImmediately(QuotaBehaviour.request(5000, ClientKeyLimits(rpm: 5)))
        #expect(quota.trackedKeys == 1)
        // A day's count is kept until the day ends.
        _ = quota.admitImmediately(QuotaBehaviour.request(6000, ClientKeyLimits(dailyRequests: 5)))
        clock.advance(by: 3600)
        _ = quota.admitImmediately(QuotaBehaviour.request(7000, ClientKeyLimits(rpm: 1)))
        #expect(quota.trackedKeys == 2, "5000 is forgotten, 6000 kept, 7000 new")
        #expect(quota.currentStates(clientKey: 6000, limits: ClientKeyLimits(dailyRequests: 5)).first?.remaining == 4)
    }

    /// The fleet share while Redis is away: limit ÷ live nodes, rounded down, never below 1.
    @Test func shareOfNodes() {
        let limits = ClientKeyLimits(rpm: 60, tpm: 1000, maxConcurrent: 5, dailyRequests: 2)
        #expect(limits.share(ofNodes: 1) == limits)
        #expect(limits.share(ofNodes: 0) == limits)
        #expect(limits.share(ofNodes: 3) == ClientKeyLimits(rpm: 20, tpm: 333, maxConcurrent: 1, dailyRequests: 1))
        #expect(limits.share(ofNodes: 7) == ClientKeyLimits(rpm: 8, tpm: 142, maxConcurrent: 1, dailyRequests: 1))
    }

    @Test func calendar() {
        // 2024-02-29T10:00:00Z: a leap day; the next month starts 2024-03-01.
        let leap = QuotaCalendar(at: 1_709_200_800)
        #expect(leap.nextDay == 1_709_251_200)
        #expect(leap.nextMonth == 1_709_251_200)
        #expect(leap.month == 2024 * 12 + 1)
        // 2026-12-31T23:59:59Z: the next month is January 2027.
        let newYear = QuotaCalendar(at: 1_798_761_599)
        #expect(newYear.nextMonth == 1_798_761_600)
        #expect(newYear.month == 2026 * 12 + 11)
        #expect(QuotaCalendar(at: 1_798_761_600).month == 2027 * 12)
    }
}
