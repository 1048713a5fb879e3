import Foundation
import KeyCoordination
import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Testing
@testable import UpstreamProviders

/// The decisions of one proxied request, without sockets: events in, actions out.
@Suite struct ProxyStateMachineTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine(maxRetries: Int = 2, timeout: TimeAmount = .seconds(30), total: TimeAmount? = nil, method: String = "POST") -> ProxyStateMachine {
        let rules = RequestBlame.Rules(maxRetries: maxRetries, defaultCooldown: 60, quotaCooldown: 3600, retryAfterReadTimeout: false,
                                       timeout: Double(timeout.nanoseconds) / 1e9)
        return ProxyStateMachine(
            slug: "pool", limits: .init(timeout: timeout, total: total, pacingMaxWait: 2),
            blame: RequestBlame(rules: rules, method: method), classifier: UpstreamAnswerClassifier(dialect: .openAI), startedAt: Self.start,
            wallClock: WallClock(anchorDate: Date(timeIntervalSince1970: 1_700_000_000), anchorDeadline: Self.start)
        )
    }

    /// The proxy's own answer, or nil when the action is something else.
    func failure(_ action: ProxyStateMachine.Action) -> ProxyFailure? {
        if case .answer(.error(let failure)) = action { return failure }
        return nil
    }

    func answer(_ status: Int, _ headers: [(String, String)] = [], body: String = "", at offset: TimeAmount = .zero) -> ProxyStateMachine.Event {
        .answerRead(status: status, headers: HTTPHeaders(headers), body: ByteBuffer(string: body), now: Self.start + offset)
    }

    @Test func firstKeyIsSent() {
        var decisions = machine()
        #expect(decisions.start() == .acquireKey(excluding: []))
        let step = decisions.handle(.keyOffered(.key(7), isKnown: true, storeReachable: true, now: Self.start))
        #expect(step == .init(report: nil, action: .send(keyID: 7)))
        #expect(decisions.attempts == 1)
    }

    @Test func rateLimitedKeyCoolsForTheProvidersResetAndRotatesFreeOfRetryBudget() {
        var decisions = machine(maxRetries: 0)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        let step = decisions.handle(answer(429, [("Retry-After", "17")]))
        #expect(step.report == .rateLimited(cooldown: 17))
        #expect(step.action == .acquireKey(excluding: [1]))
        _ = decisions.handle(.keyOffered(.key(2), isKnown: true, storeReachable: true, now: Self.start))
        let second = decisions.handle(answer(429))
        #expect(second.report == .rateLimited(cooldown: 60), "no reset hint: the default cooldown")
        #expect(second.action == .acquireKey(excluding: [1, 2]), "still rotating although MAX_RETRIES is 0")
    }

    @Test func invalidKeyIsReportedAndRotated() {
        var decisions = machine()
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        let step = decisions.handle(answer(401, body: #"{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}"#))
        guard case .rejected = step.report else {
            Issue.record("an invalid key is that key's fault: \(String(describing: step.report))")
            return
        }
        #expect(step.action == .acquireKey(excluding: [1]))
    }

    @Test func serverErrorsSpendTheRetryBudgetThenTheUpstreamAnswerGoesThrough() {
        var decisions = machine(maxRetries: 1)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        #expect(decisions.handle(answer(503, body: "first")).action == .acquireKey(excluding: [1]))
        _ = decisions.handle(.keyOffered(.key(2), isKnown: true, storeReachable: true, now: Self.start))
        let last = decisions.handle(answer(502, [("X-Up", "1")], body: "second"))
        guard case .upstreamFailure = last.report else {
            Issue.record("a 502 counts against nobody but is counted: \(String(describing: last.report))")
            return
        }
        #expect(last.action == .answer(.upstream(status: 502, headers: HTTPHeaders([("X-Up", "1")]), body: ByteBuffer(string: "second"))))
    }

    @Test func connectFailuresRetryOnAnotherKeyWithinTheBudget() {
        var decisions = machine(maxRetries: 1)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        let first = decisions.handle(.transportFailed(.notSent(timedOut: false), now: Self.start))
        #expect(first.action == .acquireKey(excluding: [1]))
        _ = decisions.handle(.keyOffered(.key(2), isKnown: true, storeReachable: true, now: Self.start))
        #expect(failure(decisions.handle(.transportFailed(.notSent(timedOut: true), now: Self.start)).action)?.status == 504)
    }

    @Test func aReadTimeoutAfterAPostIsNotSentAgainButAGetIs() {
        var post = machine(maxRetries: 3)
        _ = post.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        let failed = failure(post.handle(.transportFailed(.noAnswer(requestFullySent: true, timedOut: true), now: Self.start)).action)
        #expect(failed?.status == 504)
        #expect(failed?.message.contains("may already have processed it") == true)
        var get = machine(maxRetries: 3, method: "GET")
        _ = get.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        #expect(get.handle(.transportFailed(.noAnswer(requestFullySent: true, timedOut: true), now: Self.start)).action == .acquireKey(excluding: [1]))
    }

    @Test func tlsFailureAnswersAt502WithoutTryingOtherKeys() {
        var decisions = machine(maxRetries: 3)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        let failed = failure(decisions.handle(.transportFailed(.tls("certificate verify failed"), now: Self.start)).action)
        #expect(failed?.status == 502)
        #expect(failed?.message.contains("certificate verify failed") == true)
    }

    @Test func brokenAnswerIsRetriedThenA502NeverATruncated200() {
        var decisions = machine(maxRetries: 0)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        let failed = failure(decisions.handle(.answerBrokeOff(received: 10, declared: 100, timedOut: false, now: Self.start)).action)
        #expect(failed?.status == 502)
        #expect(failed?.message.contains("10 of 100") == true)
        var retried = machine(maxRetries: 1)
        _ = retried.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        #expect(retried.handle(.answerBrokeOff(received: 10, declared: 100, timedOut: false, now: Self.start)).action == .acquireKey(excluding: [1]))
    }

    @Test func twoKeysAgreeingOnTheRequestsOwnFaultEndTheRotationBlamingNoKey() {
        var decisions = machine()
        let forbidden = #"{"error":{"message":"You do not have access to the model","type":"invalid_request_error","code":"model_not_found"}}"#
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        let first = decisions.handle(answer(404, body: forbidden))
        _ = decisions.handle(.keyOffered(.key(2), isKnown: true, storeReachable: true, now: Self.start))
        let second = decisions.handle(answer(404, body: forbidden))
        #expect(first.report == .success && second.report == .success, "no key is blamed for the request's own fault")
        guard case .answer(.upstream(404, _, _)) = second.action else {
            Issue.record("after two keys agree the client gets the upstream's answer: \(second.action)")
            return
        }
    }

    @Test func allKeysCoolingAnswers429WithTheSoonestWait() {
        var decisions = machine()
        let failed = failure(decisions.handle(.keyOffered(.unavailable(retryAfter: 12.2), isKnown: true, storeReachable: true, now: Self.start)).action)
        #expect(failed == ProxyFailure(status: 429, kind: .rateLimited, message: "every key of 'pool' is rate limited; retry after 13 s", retryAfter: 13))
    }

    @Test func shortPacingWaitIsWaitedOut() {
        var decisions = machine()
        #expect(decisions.handle(.keyOffered(.unavailable(retryAfter: 0.25), isKnown: true, storeReachable: true, now: Self.start)).action == .wait(.milliseconds(251)))
        #expect(decisions.handle(.waited).action == .acquireKey(excluding: []))
    }

    @Test func pacingWaitBeyondTheDeadlineIsNotWaited() {
        var decisions = machine(timeout: .milliseconds(100))
        #expect(failure(decisions.handle(.keyOffered(.unavailable(retryAfter: 0.5), isKnown: true, storeReachable: true, now: Self.start)).action)?.status == 429)
    }

    @Test func rotationPastBusyKeysStopsAtTheDeadline() {
        var decisions = machine(timeout: .seconds(1))
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        let failed = failure(decisions.handle(answer(429, at: .seconds(2))).action)
        #expect(failed?.status == 429, "out of time after a 429: a 429")
        #expect(failed?.retryAfter == 1)
    }

    @Test func retriesAfterTimeoutsStopAtTheOverallDeadline() {
        var decisions = machine(maxRetries: 3, timeout: .seconds(30), total: .seconds(45), method: "GET")
        #expect(decisions.deadline == Self.start + .seconds(45))
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        let first = decisions.handle(.transportFailed(.noAnswer(requestFullySent: true, timedOut: true), now: Self.start + .seconds(30)))
        #expect(first.action == .acquireKey(excluding: [1]), "a GET is tried again while time is left")
        _ = decisions.handle(.keyOffered(.key(2), isKnown: true, storeReachable: true, now: Self.start + .seconds(30)))
        let second = decisions.handle(.transportFailed(.noAnswer(requestFullySent: true, timedOut: true), now: Self.start + .seconds(45)))
        #expect(failure(second.action)?.status == 504, "retries are left but time is not: \(second.action)")
        #expect(second.report == .upstreamFailure(reason: "upstream did not answer in time"))
    }

    @Test func serverErrorsAreNotRetriedPastTheOverallDeadline() {
        var decisions = machine(maxRetries: 3, timeout: .seconds(10))
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        let late = decisions.handle(answer(503, body: "busy", at: .seconds(11)))
        #expect(late.action == .answer(.upstream(status: 503, headers: HTTPHeaders(), body: ByteBuffer(string: "busy"))))
    }

    @Test func unknownKeysAreSkippedThenOneCatchUpThenA503() {
        var decisions = machine()
        #expect(decisions.handle(.keyOffered(.key(9), isKnown: false, storeReachable: true, now: Self.start)).action == .acquireKey(excluding: [9]))
        #expect(decisions.handle(.keyOffered(.unavailable(retryAfter: 0), isKnown: true, storeReachable: true, now: Self.start)).action == .catchUp)
        #expect(decisions.handle(.caughtUp(stillUnknown: [9])).action == .acquireKey(excluding: [9]))
        let failed = failure(decisions.handle(.keyOffered(.unavailable(retryAfter: 0), isKnown: true, storeReachable: true, now: Self.start)).action)
        #expect(failed?.status == 503, "a second catch-up is not tried")
        #expect(failed?.retryAfter == 1)
    }

    @Test func noCatchUpWhileTheStoreIsAway() {
        var decisions = machine()
        _ = decisions.handle(.keyOffered(.key(9), isKnown: false, storeReachable: false, now: Self.start))
        #expect(failure(decisions.handle(.keyOffered(.unavailable(retryAfter: 0), isKnown: true, storeReachable: false, now: Self.start)).action)?.status == 503)
    }

    @Test func keysThatFailedWith5xxServeTheRetryWhenNothingElseIsFree() {
        var decisions = machine(maxRetries: 3)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        _ = decisions.handle(answer(500))
        #expect(decisions.handle(.keyOffered(.unavailable(retryAfter: 0), isKnown: true, storeReachable: true, now: Self.start)).action == .acquireKey(excluding: []))
    }

    @Test func emptyPoolAndRejectedKeysAnswer503() {
        var empty = machine()
        let failed = failure(empty.handle(.keyOffered(.empty, isKnown: true, storeReachable: true, now: Self.start)).action)
        #expect(failed?.status == 503)
        #expect(failed?.message.contains("no usable keys") == true)
        var rejected = machine()
        _ = rejected.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start))
        _ = rejected.handle(answer(401, body: #"{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}"#))
        let refused = failure(rejected.handle(.keyOffered(.empty, isKnown: true, storeReachable: true, now: Self.start)).action)
        #expect(refused?.status == 503)
        #expect(refused?.message.contains("rejected the keys") == true)
    }

    @Test func deliveryDependsOnLengthTypeAndMethod() {
        let decisions = machine()
        #expect(decisions.delivery(status: 200, headers: HTTPHeaders([("Content-Length", "20")]), method: .POST) == .whole(contentLength: 20))
        #expect(decisions.delivery(status: 200, headers: [:], method: .POST) == .stream)
        #expect(decisions.delivery(status: 200, headers: HTTPHeaders([("Content-Length", "20"), ("Content-Type", "text/event-stream")]), method: .POST) == .stream)
        #expect(decisions.delivery(status: 200, headers: HTTPHeaders([("Content-Length", "20")]), method: .HEAD) == .stream)
        #expect(decisions.delivery(status: 200, headers: HTTPHeaders([("Content-Length", "\(1 << 20)")]), method: .GET) == .stream)
        #expect(decisions.delivery(status: 400, headers: HTTPHeaders([("Content-Length", "20")]), method: .POST) == .readErrorBody,
                "an error answer is read before it is judged")
        #expect(decisions.delivery(status: 429, headers: [:], method: .POST) == .readErrorBody)
        #expect(decisions.delivery(status: 503, headers: [:], method: .POST) == .readErrorBody)
    }
}

/// A bare 401 (no provider code) through the relay's machine: settled by the next key's answer.
@Suite struct ProxyStateMachineBare401Tests {
    let machine = ProxyStateMachineTests()

    @Test func twoKeysWithTheSameBare401BlameNeitherKey() {
        var decisions = machine.machine()
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: ProxyStateMachineTests.start))
        let first = decisions.handle(machine.answer(401, body: #"{"error":"unauthorized"}"#))
        #expect(first.report == nil && first.settled.isEmpty, "not blamed yet")
        #expect(first.action == .acquireKey(excluding: [1]))
        _ = decisions.handle(.keyOffered(.key(2), isKnown: true, storeReachable: true, now: ProxyStateMachineTests.start))
        let second = decisions.handle(machine.answer(401, body: #"{"error":"unauthorized"}"#))
        #expect(second.report == .upstreamFailure(reason: "upstream answered 401"))
        #expect(second.settled == [.init(key: 1, outcome: .upstreamFailure(reason: "upstream answered 401"))])
        guard case .answer(.upstream(let status, _, _)) = second.action else { Issue.record("expected the upstream's answer, got \(second.action)"); return }
        #expect(status == 401)
        #expect(decisions.owedReports.isEmpty)
    }

    @Test func aBare401ThatAnotherKeyServesBlamesItsKey() {
        var decisions = machine.machine()
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: ProxyStateMachineTests.start))
        _ = decisions.handle(machine.answer(401))
        _ = decisions.handle(.keyOffered(.key(2), isKnown: true, storeReachable: true, now: ProxyStateMachineTests.start))
        let served = decisions.handle(machine.answer(200, body: "{}"))
        #expect(served.settled == [.init(key: 1, outcome: .rejected(reason: "upstream answered 401"))])
    }

    @Test func aBare401WithNoOtherKeyIsOwedAsAnError() {
        var decisions = machine.machine()
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, storeReachable: true, now: ProxyStateMachineTests.start))
        _ = decisions.handle(machine.answer(401))
        let ending = decisions.handle(.keyOffered(.empty, isKnown: true, storeReachable: true, now: ProxyStateMachineTests.start))
        guard case .answer(.upstream(let status, _, _)) = ending.action else { Issue.record("expected the upstream's 401, got \(ending.action)"); return }
        #expect(status == 401)
        #expect(decisions.owedReports == [.init(key: 1, outcome: .upstreamFailure(reason: "upstream answered 401"))])
    }
}
