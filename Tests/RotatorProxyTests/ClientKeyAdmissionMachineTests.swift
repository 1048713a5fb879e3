import ClientAccess
import KeyCoordination
import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Testing

/// The admission stage of `ExchangeStateMachine`, event by event: asked once after the request is prepared and
/// before any upstream call; the quota's and the pool's answers in either order; a refusal by either side; and exactly
/// one settle (something went upstream) or release (nothing did) however the exchange ends.
@Suite struct ClientKeyAdmissionMachineTests {
    typealias Machine = ExchangeStateMachine
    typealias Step = ExchangeStateMachine.Step
    static let start = ExchangeStateMachineTests.start
    static let request = QuotaRequest(clientKey: 7, limits: ClientKeyLimits(rpm: 60, maxConcurrent: 2), reservedTokens: 0, lease: "req-1")
    static let ticket = QuotaTicket(request: request, admittedAt: 1000)
    static let admitted = QuotaDecision.admitted(ticket, states: [])
    static let refused = QuotaDecision.refused(limit: .rpm, value: 60, retryAfter: 12, states: [])
    static let send = Step(.send(keyID: 1, fresh: false, timer: start + .seconds(30)))

    /// A machine whose request is read and prepared with a client key's quota request: it asks the quota.
    static func admitting() -> Machine {
        let body = #"{"model":"m"}"#
        var machine = Machine(head: ExchangeStateMachineTests.head(contentLength: body.utf8.count), maxBodyBytes: 1 << 20,
                              limits: ExchangeStateMachineTests.limits)
        _ = machine.headChecked(.none)
        _ = machine.bodyPart(ByteBuffer(string: body))
        _ = machine.requestEnded { .valid($0) }
        #expect(machine.requestPrepared(keys: ExchangeStateMachineTests.keys(), conversion: nil, quota: Self.request) == Step(.admit(Self.request)))
        return machine
    }

    /// Admitted, then a key: the request is sent.
    static func sent() -> Machine {
        var machine = admitting()
        #expect(machine.quotaDecided(admitted, now: start) == Step(.acquireKey(excluding: [])))
        #expect(machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: start) == send)
        return machine
    }

    @Test func anOperatorKeysRequestAsksForAKeyAtOnceAndOwesNothing() {
        var machine = ExchangeStateMachineTests.prepared()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        _ = machine.clientClosed()
        #expect(machine.exchangeEnding() == nil)
        #expect(machine.renewalDue() == Step(.none))
    }

    @Test func answeredAtOnceTheKeyIsAskedForOnlyOnceAdmitted() {
        var machine = Self.sent()
        #expect(machine.renewsLease, "a concurrency limit: the lease is renewed while the request runs")
        #expect(machine.renewalDue() == Step(.renewQuota(Self.ticket)))
        _ = machine.answerHead(status: 200, headers: ["Content-Length": "2"], plan: ExchangeStateMachineTests.plan, now: Self.start)
        _ = machine.answerPart(ByteBuffer(string: "{}"), now: Self.start, margin: 0) { $0 }
        _ = machine.answerEnded(now: Self.start, intact: true)
        #expect(machine.isFinished)
        #expect(machine.exchangeEnding() == .settle(Self.ticket))
        #expect(machine.exchangeEnding() == nil, "once")
        #expect(machine.renewalDue() == Step(.none), "nothing renewed after the end")
    }

    @Test func theQuotaFirstThenTheKey() {
        var machine = Self.admitting()
        #expect(machine.quotaPending() == Step(.acquireKey(excluding: [])), "both in flight in the same tick")
        #expect(machine.quotaDecided(Self.admitted, now: Self.start) == Step(.none), "the key is already asked for")
        #expect(machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start) == Self.send)
    }

    @Test func theKeyFirstIsHeldUntilTheQuotaAdmits() {
        var machine = Self.admitting()
        _ = machine.quotaPending()
        #expect(machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start) == Step(.none), "nothing goes upstream yet")
        #expect(machine.quotaDecided(Self.admitted, now: Self.start) == Self.send)
    }

    /// The key came first (held): the quota's refusal answers 429 and gives the pool's pick back.
    @Test func aQuotaRefusalAfterTheKeyCameAnswers429AndGivesThePickBack() {
        var machine = Self.admitting()
        _ = machine.quotaPending()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        var expected = Step(.write(.refusal(.quota(limit: .rpm, value: 60, retryAfter: 12)), then: .finish))
        expected.unpick = 1
        #expect(machine.quotaDecided(Self.refused, now: Self.start) == expected, "no outcome reported for the key; its pick undone")
        #expect(machine.exchangeEnding() == nil, "nothing admitted, nothing to give back")
    }

    /// The quota refused first: the key the pool offers afterwards is given back when it comes, once.
    @Test func aQuotaRefusalBeforeTheKeyGivesTheLateKeyBack() {
        var machine = Self.admitting()
        _ = machine.quotaPending()
        let refusal = Step(.write(.refusal(.quota(limit: .rpm, value: 60, retryAfter: 12)), then: .finish))
        #expect(machine.quotaDecided(Self.refused, now: Self.start) == refusal)
        var giveBack = Step(.none)
        giveBack.unpick = 1
        #expect(machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start) == giveBack)
        #expect(machine.exchangeEnding() == nil)
    }

    /// Nothing picked, nothing to give back: a refusal before the pool answered with no key, or one answered at once
    /// (no key asked for).
    @Test func aQuotaRefusalGivesBackOnlyAKeyThePoolPicked() {
        for offer in [KeyAcquisition.empty, .unavailable(retryAfter: 3)] {
            var late = Self.admitting()
            _ = late.quotaPending()
            _ = late.quotaDecided(Self.refused, now: Self.start)
            #expect(late.keyOffered(offer, isKnown: true, storeReachable: true, now: Self.start) == Step(.none), "\(offer)")
            var held = Self.admitting()
            _ = held.quotaPending()
            _ = held.keyOffered(offer, isKnown: true, storeReachable: true, now: Self.start)
            #expect(held.quotaDecided(Self.refused, now: Self.start).unpick == nil, "\(offer)")
        }
        var atOnce = Self.admitting()
        #expect(atOnce.quotaDecided(Self.refused, now: Self.start).unpick == nil)
        // Admitted: the key serves, nothing is given back.
        var admitted = Self.admitting()
        _ = admitted.quotaPending()
        _ = admitted.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        #expect(admitted.quotaDecided(Self.admitted, now: Self.start) == Self.send)
    }

    @Test func aRefusalAnsweredAtOnceAsksThePoolForNothing() {
        var machine = Self.admitting()
        #expect(machine.quotaDecided(Self.refused, now: Self.start).action == .write(.refusal(.quota(limit: .rpm, value: 60, retryAfter: 12)), then: .finish))
    }

    @Test func thePoolRefusingReleasesTheAdmission() {
        for offer in [KeyAcquisition.empty, .unavailable(retryAfter: 30)] {
            var machine = Self.admitting()
            _ = machine.quotaDecided(Self.admitted, now: Self.start)
            let step = machine.keyOffered(offer, isKnown: true, storeReachable: true, now: Self.start)
            guard case .write(.failure(let failure), .finish) = step.action else {
                Issue.record("\(offer): \(step.action)")
                continue
            }
            #expect([429, 503].contains(failure.status))
            #expect(machine.exchangeEnding() == .release(Self.ticket), "\(offer): nothing went upstream")
        }
    }

    @Test func theClientLeavingBeforeTheSendReleasesAndAfterItSettles() {
        var before = Self.admitting()
        _ = before.quotaDecided(Self.admitted, now: Self.start)
        _ = before.clientClosed()
        #expect(before.exchangeEnding() == .release(Self.ticket))

        var after = Self.sent()
        _ = after.clientClosed()
        #expect(after.exchangeEnding() == .settle(Self.ticket), "the upstream may have served it")
    }

    @Test func aTimeoutAfterTheSendSettles() {
        var machine = Self.sent()
        var step = machine.timerFired(now: Self.start + .seconds(31))
        if step.action == .awaitReports { step = machine.reportsCompleted() }
        if case .write(_, .finish) = step.action {} else { Issue.record("\(step.action)") }
        #expect(machine.exchangeEnding() == .settle(Self.ticket))
    }

    @Test func anAdmissionThatComesAfterTheClientLeftIsReleased() {
        var machine = Self.admitting()
        _ = machine.quotaPending()
        _ = machine.clientClosed()
        #expect(machine.exchangeEnding() == nil, "not admitted yet")
        var late = machine.quotaDecided(Self.admitted, now: Self.start)
        #expect(late.quota == .release(Self.ticket))
        late.quota = nil
        #expect(late == Step(.none))
        #expect(machine.quotaDecided(Self.admitted, now: Self.start).quota == nil, "once")
        #expect(machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start) == Step(.none))

        var refusedLate = Self.admitting()
        _ = refusedLate.quotaPending()
        _ = refusedLate.requestTimedOut(message: "late")
        #expect(refusedLate.exchangeEnding() == nil)
        #expect(refusedLate.quotaDecided(Self.refused, now: Self.start).quota == nil, "a refusal took nothing")
    }

    @Test func aQuotaThatFailsAnswers503AndTakesNothing() {
        var machine = Self.admitting()
        _ = machine.quotaPending()
        let step = machine.quotaFailed()
        guard case .write(.failure(let failure), .finish) = step.action else {
            Issue.record("\(step.action)")
            return
        }
        #expect(failure.status == 503)
        #expect(machine.exchangeEnding() == nil)
    }

    @Test func aKeyWithoutAConcurrencyLimitRenewsNoLease() {
        let request = QuotaRequest(clientKey: 7, limits: ClientKeyLimits(rpm: 60), reservedTokens: 0, lease: "req-2")
        var fresh = Machine(head: ExchangeStateMachineTests.head(contentLength: 2), maxBodyBytes: 1 << 20, limits: ExchangeStateMachineTests.limits)
        _ = fresh.headChecked(.none)
        _ = fresh.bodyPart(ByteBuffer(string: "{}"))
        _ = fresh.requestEnded { .valid($0) }
        _ = fresh.requestPrepared(keys: ExchangeStateMachineTests.keys(), conversion: nil, quota: request)
        _ = fresh.quotaDecided(.admitted(QuotaTicket(request: request, admittedAt: 0), states: []), now: Self.start)
        #expect(!fresh.renewsLease)
        #expect(fresh.exchangeEnding() == .release(QuotaTicket(request: request, admittedAt: 0)))
    }

    @Test func aClientKeyRefusedInTheBodyGetsItsRefusal() {
        let refusal = ProxyRequestGate.refusedClientKey(.revoked, format: .openAICompatible)
        var machine = Machine(head: ExchangeStateMachineTests.head(contentLength: 2), maxBodyBytes: 1 << 20, limits: ExchangeStateMachineTests.limits)
        _ = machine.headChecked(.keyInBody)
        _ = machine.bodyPart(ByteBuffer(string: "{}"))
        #expect(machine.requestEnded { _ in .refused(refusal) } == Step(.write(.refusal(.given(refusal)), then: .finish)))
    }
}
