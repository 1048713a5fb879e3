import KeyCoordination
import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Testing

/// The decisions of one proxied request, without sockets: events in, actions out.
@Suite struct ProxyStateMachineTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine(maxRetries: Int = 2, timeout: TimeAmount = .seconds(30), poolSize: Int = 3) -> ProxyStateMachine {
        ProxyStateMachine(
            slug: "pool", poolSize: poolSize,
            limits: .init(maxRetries: maxRetries, timeout: timeout, pacingMaxWait: 2, defaultCooldown: 60), startedAt: Self.start
        )
    }

    func answer(_ status: Int, _ headers: [(String, String)] = [], body: String = "", at offset: TimeAmount = .zero) -> ProxyStateMachine.Event {
        .answerRead(status: status, headers: HTTPHeaders(headers), body: ByteBuffer(string: body), now: Self.start + offset)
    }

    @Test func firstKeyIsSent() {
        var decisions = machine()
        #expect(decisions.start() == .acquireKey(excluding: []))
        let step = decisions.handle(.keyOffered(.key(7), isKnown: true, now: Self.start))
        #expect(step == .init(report: nil, action: .send(keyID: 7)))
        #expect(decisions.attempts == 1)
    }

    @Test func rateLimitedKeyCoolsForTheProvidersResetAndRotatesFreeOfRetryBudget() {
        var decisions = machine(maxRetries: 0)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, now: Self.start))
        let step = decisions.handle(answer(429, [("Retry-After", "17")]))
        #expect(step.report == .rateLimited(cooldown: 17))
        #expect(step.action == .acquireKey(excluding: [1]))
        _ = decisions.handle(.keyOffered(.key(2), isKnown: true, now: Self.start))
        let second = decisions.handle(answer(429))
        #expect(second.report == .rateLimited(cooldown: 60), "no reset hint: the default cooldown")
        #expect(second.action == .acquireKey(excluding: [1, 2]), "still rotating although MAX_RETRIES is 0")
    }

    @Test func rejectedKeyIsReportedAndRotated() {
        var decisions = machine()
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, now: Self.start))
        let step = decisions.handle(answer(401))
        #expect(step.report == .rejected(reason: "upstream answered 401"))
        #expect(step.action == .acquireKey(excluding: [1]))
    }

    @Test func serverErrorsSpendTheRetryBudgetThenTheUpstreamAnswerGoesThrough() {
        var decisions = machine(maxRetries: 1)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, now: Self.start))
        #expect(decisions.handle(answer(503, body: "first")).action == .acquireKey(excluding: [1]))
        _ = decisions.handle(.keyOffered(.key(2), isKnown: true, now: Self.start))
        let last = decisions.handle(answer(502, [("X-Up", "1")], body: "second"))
        #expect(last.report == .upstreamFailure(reason: "upstream answered 502"))
        #expect(last.action == .answer(.upstream(status: 502, headers: HTTPHeaders([("X-Up", "1")]), body: ByteBuffer(string: "second"))))
    }

    @Test func transportFailuresRetryOnAnotherKeyWithinTheBudget() {
        var decisions = machine(maxRetries: 1)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, now: Self.start))
        let first = decisions.handle(.transportFailed(.connectFailed, now: Self.start))
        #expect(first.action == .acquireKey(excluding: [1]))
        #expect(first.report == .upstreamFailure(reason: "upstream unreachable: connect failed"))
        _ = decisions.handle(.keyOffered(.key(2), isKnown: true, now: Self.start))
        guard case .answer(.error(let status, .timeout, _, nil)) = decisions.handle(.transportFailed(.timedOut, now: Self.start)).action else {
            Issue.record("a timeout after the budget must answer 504")
            return
        }
        #expect(status == .gatewayTimeout)
    }

    @Test func tlsFailureAnswersAt502WithoutTryingOtherKeys() {
        var decisions = machine(maxRetries: 3)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, now: Self.start))
        guard case .answer(.error(.badGateway, .upstreamUnavailable, let message, nil)) =
            decisions.handle(.transportFailed(.tls("certificate verify failed"), now: Self.start)).action
        else {
            Issue.record("TLS failure must be a 502")
            return
        }
        #expect(message.contains("certificate verify failed"))
    }

    @Test func brokenAnswerIsRetriedThenA502NeverATruncated200() {
        var decisions = machine(maxRetries: 0)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, now: Self.start))
        let step = decisions.handle(.answerBrokeOff(received: 10, declared: 100, timedOut: false, now: Self.start))
        guard case .answer(.error(.badGateway, _, let message, _)) = step.action else {
            Issue.record("expected a 502, got \(step.action)")
            return
        }
        #expect(message.contains("10 of 100"))
    }

    @Test func allKeysCoolingAnswers429WithTheSoonestWait() {
        var decisions = machine()
        let step = decisions.handle(.keyOffered(.unavailable(retryAfter: 12.2), isKnown: true, now: Self.start))
        #expect(step.action == .answer(.error(status: .tooManyRequests, kind: .rateLimited,
                                              message: "every key of 'pool' is rate limited; retry after 13 s", retryAfter: 13)))
    }

    @Test func shortPacingWaitIsWaitedOut() {
        var decisions = machine()
        #expect(decisions.handle(.keyOffered(.unavailable(retryAfter: 0.25), isKnown: true, now: Self.start)).action == .wait(.milliseconds(251)))
        #expect(decisions.handle(.waited).action == .acquireKey(excluding: []))
    }

    @Test func pacingWaitBeyondTheDeadlineIsNotWaited() {
        var decisions = machine(timeout: .milliseconds(100))
        guard case .answer(.error(.tooManyRequests, _, _, _)) =
            decisions.handle(.keyOffered(.unavailable(retryAfter: 0.5), isKnown: true, now: Self.start)).action
        else {
            Issue.record("a wait past PROXY_TIMEOUT must answer 429")
            return
        }
    }

    @Test func rotationPastBusyKeysStopsAtTheDeadline() {
        var decisions = machine(timeout: .seconds(1))
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, now: Self.start))
        let step = decisions.handle(answer(429, at: .seconds(2)))
        guard case .answer(.error(.tooManyRequests, .rateLimited, _, let retryAfter)) = step.action else {
            Issue.record("out of time after a 429: a 429, got \(step.action)")
            return
        }
        #expect(retryAfter == 1)
    }

    @Test func unknownKeysAreSkippedThenOneCatchUpThenA503() {
        var decisions = machine()
        #expect(decisions.handle(.keyOffered(.key(9), isKnown: false, now: Self.start)).action == .acquireKey(excluding: [9]))
        #expect(decisions.handle(.keyOffered(.unavailable(retryAfter: 0), isKnown: true, now: Self.start)).action == .catchUp)
        #expect(decisions.handle(.caughtUp(stillUnknown: [9])).action == .acquireKey(excluding: [9]))
        let step = decisions.handle(.keyOffered(.unavailable(retryAfter: 0), isKnown: true, now: Self.start))
        guard case .answer(.error(.serviceUnavailable, _, _, 1)) = step.action else {
            Issue.record("a second catch-up is not tried: 503 with Retry-After 1, got \(step.action)")
            return
        }
    }

    @Test func noCatchUpWhileTheStoreIsAway() {
        var decisions = machine()
        decisions.storeReachable = false
        _ = decisions.handle(.keyOffered(.key(9), isKnown: false, now: Self.start))
        guard case .answer(.error(.serviceUnavailable, _, _, _)) = decisions.handle(.keyOffered(.unavailable(retryAfter: 0), isKnown: true, now: Self.start)).action else {
            Issue.record("no store read while the store is unreachable")
            return
        }
    }

    @Test func keysThatFailedWith5xxServeTheRetryWhenNothingElseIsFree() {
        var decisions = machine(maxRetries: 3)
        _ = decisions.handle(.keyOffered(.key(1), isKnown: true, now: Self.start))
        _ = decisions.handle(answer(500))
        #expect(decisions.handle(.keyOffered(.unavailable(retryAfter: 0), isKnown: true, now: Self.start)).action == .acquireKey(excluding: []))
    }

    @Test func emptyPoolAndRejectedLoneKeyAnswer503() {
        var empty = machine()
        guard case .answer(.error(.serviceUnavailable, _, let message, _)) = empty.handle(.keyOffered(.empty, isKnown: true, now: Self.start)).action else {
            Issue.record("an empty pool is a 503")
            return
        }
        #expect(message.contains("no usable keys"))
        var lone = machine(poolSize: 1)
        _ = lone.handle(.keyOffered(.key(1), isKnown: true, now: Self.start))
        _ = lone.handle(answer(403))
        guard case .answer(.error(.serviceUnavailable, _, let rejected, _)) =
            lone.handle(.keyOffered(.unavailable(retryAfter: 10), isKnown: true, now: Self.start)).action
        else {
            Issue.record("a lone rejected key is a config problem: 503")
            return
        }
        #expect(rejected.contains("rejected the keys"))
    }

    @Test func deliveryDependsOnLengthTypeAndMethod() {
        let decisions = machine()
        #expect(decisions.delivery(status: 200, headers: HTTPHeaders([("Content-Length", "20")]), method: .POST) == .whole(contentLength: 20))
        #expect(decisions.delivery(status: 200, headers: [:], method: .POST) == .stream)
        #expect(decisions.delivery(status: 200, headers: HTTPHeaders([("Content-Length", "20"), ("Content-Type", "text/event-stream")]), method: .POST) == .stream)
        #expect(decisions.delivery(status: 200, headers: HTTPHeaders([("Content-Length", "20")]), method: .HEAD) == .stream)
        #expect(decisions.delivery(status: 200, headers: HTTPHeaders([("Content-Length", "\(1 << 20)")]), method: .GET) == .stream)
        #expect(decisions.delivery(status: 400, headers: HTTPHeaders([("Content-Length", "20")]), method: .POST) == .whole(contentLength: 20),
                "a 400 is the request's fault: delivered")
        #expect(decisions.delivery(status: 429, headers: [:], method: .POST) == .readErrorBody)
        #expect(decisions.delivery(status: 503, headers: [:], method: .POST) == .readErrorBody)
    }
}
