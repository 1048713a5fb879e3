import ClientAccess
import RedisClient
import Testing

@testable import RedisCoordination

/// The client-quota script's calls and answers without a Redis: the order of `ARGV` and of the reply is the contract
/// with `Resources/client_quota.lua`.
@Suite struct ClientQuotaCodecTests {
    private static func bulk(_ text: String) -> RESPValue { .bulkString(Array(text.utf8)) }
    private static func reply(_ parts: [String]) -> RESPValue { .array(parts.map(bulk)) }
    private let limits = ClientKeyLimits(rpm: 60, maxConcurrent: 5, dailyTokens: 1000)

    @Test func commandsSendTheLimitsLeaseTokensAndAdmissionTime() {
        let request = QuotaRequest(clientKey: 7, limits: limits, reservedTokens: 120, lease: "req-1")
        let ticket = QuotaTicket(request: request, admittedAt: 1_800_000_000.25)
        let limitArguments = ["60", "0", "5", "0", "0", "1000", "0"]
        #expect(ClientQuotaCommand.admit(request).arguments(clock: "")
            == ["admit", ""] + limitArguments + ["req-1", "120", "", "0", "30.0"])
        #expect(ClientQuotaCommand.renew(ticket).arguments(clock: "")[11] == "1800000000.250000", "ARGV[12]")
        #expect(ClientQuotaCommand.states(limits).arguments(clock: "") == ["states", ""] + limitArguments + ["", "0", "", "0", "30.0"])
    }

    /// Settles and releases go as groups of six: after the admit's 14 arguments (riding it), or from ARGV[3] in a batch
    /// `settle`; each names the limits its own ticket had.
    @Test func settlesAndReleasesGoAsGroupsOfSix() {
        let request = QuotaRequest(clientKey: 7, limits: limits, reservedTokens: 120, lease: "req-1")
        let settled = QuotaGiveBack(ticket: QuotaTicket(request: request, admittedAt: 1_800_000_000.25), usedTokens: 80)
        let edited = QuotaRequest(clientKey: 7, limits: ClientKeyLimits(tpm: 10, monthlyTokens: 5), reservedTokens: 3, lease: "req-0")
        let released = QuotaGiveBack(ticket: QuotaTicket(request: edited, admittedAt: 5), usedTokens: nil)
        let groups = ["settle", "req-1", "120", "1800000000.250000", "80", "1010010",
                      "release", "req-0", "3", "5.000000", "0", "0100001"]
        #expect(ClientQuotaCommand.settle([settled, released]).arguments(clock: "5.000000") == ["settle", "5.000000"] + groups)
        let next = QuotaRequest(clientKey: 7, limits: limits, reservedTokens: 9, lease: "req-2")
        let admit = ClientQuotaCommand.admit(next, givingBack: [settled, released]).arguments(clock: "")
        #expect(admit.count == 14 + 12)
        #expect(Array(admit.prefix(14)) == ClientQuotaCommand.admit(next).arguments(clock: ""))
        #expect(Array(admit.dropFirst(14)) == groups)
        #expect(ClientQuotaCommand.settle([settled]).clientKey == 7)
    }

    @Test func keysShareTheClientKeysHashTag() {
        #expect(RedisClientQuota.keys(clientKey: 7)
            == ["cq1:{ck:7}:r", "cq1:{ck:7}:t", "cq1:{ck:7}:ta", "cq1:{ck:7}:c", "cq1:{ck:7}:cal"].map { RedisArgument($0) })
    }

    @Test func admissionsAndRefusalsDecodeWithEachConfiguredLimitsState() throws {
        let request = QuotaRequest(clientKey: 7, limits: limits, reservedTokens: 10, lease: "req-2")
        let perLimit = ["3", "57.000000", "0", "0.000000", "5", "1.500000", "0", "0.000000", "0", "0.000000", "1200", "3600.000000", "0", "0.000000"]
        let admitted = try ClientQuotaReply(Self.reply(["ok", "100.000000", "", ""] + perLimit)).decision(for: request)
        let states = [
            LimitState(limit: .rpm, value: 60, remaining: 57, resetSeconds: 57),
            LimitState(limit: .concurrent, value: 5, remaining: 0, resetSeconds: 1.5),
            LimitState(limit: .dailyTokens, value: 1000, remaining: 0, resetSeconds: 3600),
        ]
        #expect(admitted == .admitted(QuotaTicket(request: request, admittedAt: 100), states: states))
        let refused = try ClientQuotaReply(Self.reply(["no", "100.000000", "3", "1.000000"] + perLimit)).decision(for: request)
        #expect(refused == .refused(limit: .concurrent, value: 5, retryAfter: 1, states: states))
        let month = try ClientQuotaReply(Self.reply(["no", "100.000000", "7", ""] + perLimit)).decision(for: request)
        guard case .refused(.monthlyTokens, _, nil, _) = month else {
            Issue.record("\(month)")
            return
        }
    }

    @Test func repliesTheCommandCannotHaveThrow() {
        let perLimit = Array(repeating: "0", count: 14)
        #expect(throws: RedisError.self) { try ClientQuotaReply(Self.reply(["maybe", "1", "", ""] + perLimit)) }
        #expect(throws: RedisError.self) { try ClientQuotaReply(Self.reply(["no", "1", "9", ""] + perLimit)) }
        #expect(throws: RedisError.self) { try ClientQuotaReply(Self.reply(["ok", "1", "", ""])) }
        #expect(throws: RedisError.self) { try ClientQuotaReply(Self.bulk("ok")) }
    }
}
