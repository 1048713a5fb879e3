import Foundation
import KeyCoordination
import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Testing

/// One proxied request's decisions step by step, without sockets: each event in, the step out (what happens to the
/// upstream connection, which outcomes are reported, the one action).
@Suite struct ExchangeStateMachineTests {
    typealias Machine = ExchangeStateMachine
    typealias Step = ExchangeStateMachine.Step
    static let start = ProxyStateMachineTests.start
    static let limits = ProxyStateMachine.Limits(timeout: .seconds(30), total: .seconds(60), pacingMaxWait: 2)

    static func head(method: HTTPMethod = .POST, contentLength: Int? = 13, keepAlive: Bool = true) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: "/llm/p/v1/chat/completions")
        if let contentLength { head.headers.add(name: "Content-Length", value: String(contentLength)) }
        if !keepAlive { head.headers.add(name: "Connection", value: "close") }
        return head
    }

    static func keys(maxRetries: Int = 2, method: String = "POST") -> ProxyStateMachine {
        ProxyStateMachineTests().machine(maxRetries: maxRetries, timeout: .seconds(30), total: .seconds(60), method: method)
    }

    static let plan = AnswerBodyPlan(route: .llm, status: 200, headers: [:], converts: false)

    /// A machine whose request is admitted, read and prepared: it asks for its first key.
    static func prepared(body: String = #"{"model":"m"}"#, conversion: Machine.ConversionReading? = nil, maxRetries: Int = 2) -> Machine {
        var machine = Machine(head: head(contentLength: body.utf8.count), maxBodyBytes: 1 << 20, limits: limits)
        #expect(machine.headChecked(.none) == Step(.none))
        #expect(machine.bodyPart(ByteBuffer(string: body)) == Step(.none))
        #expect(machine.requestEnded { _ in .missing } == Step(.prepareRequest(body: ByteBuffer(string: body))))
        #expect(machine.requestPrepared(keys: keys(maxRetries: maxRetries), conversion: conversion) == Step(.acquireKey(excluding: [])))
        return machine
    }

    static func judged(_ step: Step) -> KeyOutcome? { step.judged?.outcome }

    // MARK: The request

    @Test func aSmallWholeAnswerIsReadThenWrittenInOneGoAndTheKeyServed() {
        var machine = Self.prepared()
        #expect(machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
            == Step(.send(keyID: 1, fresh: false, timer: Self.start + .seconds(30))))
        let headers = HTTPHeaders([("Content-Length", "2")])
        #expect(machine.answerHead(status: 200, headers: headers, plan: Self.plan, now: Self.start + .milliseconds(5)) == Step(.none))
        #expect(machine.answerPart(ByteBuffer(string: "{}"), now: Self.start, margin: 0) { $0 } == Step(.none))
        let end = machine.answerEnded(now: Self.start + .milliseconds(6), intact: true)
        #expect(end.upstream == .release)
        #expect(Self.judged(end) == .success)
        #expect(end.action == .write(.whole(status: 200, headers: headers, body: ByteBuffer(string: "{}")), then: .finish))
        #expect(machine.isFinished)
        #expect(machine.record.upstreamWait == Int64(TimeAmount.milliseconds(5).nanoseconds))
    }

    @Test func aShortWholeAnswerIsNeverPassedOnButRetriedOnAnotherKey() {
        var machine = Self.prepared()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        _ = machine.answerHead(status: 200, headers: HTTPHeaders([("Content-Length", "10")]), plan: Self.plan, now: Self.start)
        _ = machine.answerPart(ByteBuffer(string: "{}"), now: Self.start, margin: 0) { $0 }
        let end = machine.answerEnded(now: Self.start, intact: true)
        #expect(end.upstream == .release)
        #expect(end.action == .acquireKey(excluding: [1]))
        guard case .upstreamFailure = Self.judged(end) else { Issue.record("a broken answer is the attempt's failure: \(end)"); return }
    }

    @Test func aRefusedSmallBodyIsDrainedAndTheConnectionKept() {
        var machine = Machine(head: Self.head(contentLength: 100), maxBodyBytes: 1 << 20, limits: Self.limits)
        let refusal = ProxyRequestGate.Refusal(status: .notFound, kind: .notFound, message: "no such config", format: nil)
        #expect(machine.headRefused(.given(refusal)) == Step(.write(.refusal(.given(refusal)), then: .awaitRequestEnd)))
        #expect(machine.bodyPart(ByteBuffer(repeating: 1, count: 100)) == Step(.none), "the rest is read and dropped")
        #expect(machine.requestEnded { _ in .missing } == Step(.finish(completed: true)))
        #expect(!machine.closesConnection)
    }

    @Test func aRefusedLargeOrUnknownBodyClosesTheConnectionInstead() {
        for length in [Machine.bodyWorthDraining + 1, nil] {
            var machine = Machine(head: Self.head(contentLength: length), maxBodyBytes: 1 << 20, limits: Self.limits)
            #expect(machine.headRefused(.unauthorized) == Step(.write(.refusal(.unauthorized), then: .finish)))
            #expect(machine.closesConnection)
            #expect(machine.isReceivingRequest, "the front handler discards what still comes")
        }
    }

    @Test func aBodyOverTheLimitIs413AndClosesTheConnection() {
        var machine = Machine(head: Self.head(contentLength: 20), maxBodyBytes: 10, limits: Self.limits)
        _ = machine.headChecked(.none)
        #expect(machine.bodyPart(ByteBuffer(repeating: 1, count: 11)) == Step(.write(.refusal(.tooLarge(limit: 10)), then: .finish)))
        #expect(machine.closesConnection)
        #expect(machine.bodyPart(ByteBuffer(repeating: 1, count: 9)) == Step(.none), "parts behind a finished exchange are dropped")
    }

    @Test func aBodyKeyIsCheckedAtTheEndAndOnlyASmallBodyIsRead() {
        var missing = Machine(head: Self.head(contentLength: 2), maxBodyBytes: 1 << 20, limits: Self.limits)
        _ = missing.headChecked(.keyInBody)
        _ = missing.bodyPart(ByteBuffer(string: "{}"))
        #expect(missing.requestEnded { _ in .missing } == Step(.write(.refusal(.unauthorized), then: .finish)))

        var found = Machine(head: Self.head(contentLength: 2), maxBodyBytes: 1 << 20, limits: Self.limits)
        _ = found.headChecked(.keyInBody)
        _ = found.bodyPart(ByteBuffer(string: "{}"))
        #expect(found.requestEnded { _ in .valid(ByteBuffer(string: "{-}")) } == Step(.prepareRequest(body: ByteBuffer(string: "{-}"))), "the key never goes upstream")

        var large = Machine(head: Self.head(contentLength: nil), maxBodyBytes: 1 << 20, limits: Self.limits)
        _ = large.headChecked(.keyInBody)
        #expect(large.bodyPart(ByteBuffer(repeating: 1, count: ProxyRequestGate.bodyKeyMaxBytes + 1))
            == Step(.write(.refusal(.tooLargeForBodyKey(limit: 1 << 20)), then: .finish)))
    }

    @Test func aRefusalThatTellsAboutTheSlugGoesOnlyToAHolderOfAProxyKey() {
        let refusal = ProxyRequestGate.Refusal(status: .forbidden, kind: .authentication, message: "inactive", format: nil)
        var holder = Machine(head: Self.head(contentLength: 2), maxBodyBytes: 1 << 20, limits: Self.limits)
        _ = holder.headChecked(.refusalUnlessKey(refusal))
        #expect(holder.requestEnded { .valid($0) }.action == .write(.refusal(.given(refusal)), then: .finish))
        var stranger = Machine(head: Self.head(contentLength: 2), maxBodyBytes: 1 << 20, limits: Self.limits)
        _ = stranger.headChecked(.refusalUnlessKey(refusal))
        #expect(stranger.requestEnded { _ in .missing }.action == .write(.refusal(.unauthorized), then: .finish))
    }

    @Test func aRequestStillArrivingAtItsDeadlineGets408() {
        var machine = Machine(head: Self.head(contentLength: 100), maxBodyBytes: 1 << 20, limits: Self.limits)
        _ = machine.headChecked(.none)
        #expect(machine.requestTimedOut(message: "late") == Step(upstream: .close, .write(.requestTimeout(message: "late"), then: .finish)))
        #expect(machine.closesConnection)
        #expect(machine.requestTimedOut(message: "late") == Step(.none), "ends once")
    }

    // MARK: Keys and attempts

    @Test func aStaleKeptAliveConnectionIsTriedOnceMoreOnANewOneNotHeldAgainstTheKey() {
        var machine = Self.prepared()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        let retry = machine.upstreamFailed(.noAnswer(requestFullySent: true, timedOut: false), now: Self.start)
        #expect(retry == Step(upstream: .close, .send(keyID: 1, fresh: true, timer: Self.start + .seconds(30))))
        let attempt = machine.connectingAnew()
        let connected = machine.connected(attempt: attempt, now: Self.start)
        #expect(connected)
        let failed = machine.upstreamFailed(.noAnswer(requestFullySent: true, timedOut: false), now: Self.start)
        #expect(failed.action == .acquireKey(excluding: [1]), "the second failure is the key's attempt")
        #expect(failed.upstream == .close)
        guard case .upstreamFailure = Self.judged(failed) else { Issue.record("reported: \(failed)"); return }
    }

    @Test func aNewConnectionThatFailsIsNotRetriedAsStale() {
        var machine = Self.prepared()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        let attempt = machine.connectingAnew()
        let connected = machine.connected(attempt: attempt, now: Self.start)
        #expect(connected)
        #expect(machine.upstreamFailed(.notSent(timedOut: false), now: Self.start).action == .acquireKey(excluding: [1]))
        let late = machine.connected(attempt: attempt, now: Self.start)
        #expect(!late, "a connection made for an attempt that is over is not used")
    }

    @Test func aTLSFailureIsAnsweredAtOnceNotRetriedOnAFreshConnection() {
        var machine = Self.prepared()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        let step = machine.upstreamFailed(.tls("certificate verify failed"), now: Self.start)
        guard case .awaitReports = step.action else { Issue.record("the 502 waits for the failure's report: \(step)"); return }
        guard case .write(.failure(let failure), .finish) = machine.reportsCompleted().action else { Issue.record("no 502"); return }
        #expect(failure.status == 502)
        #expect(failure.message.contains("UPSTREAM_CA_FILE"))
    }

    /// The CI flake of `ClusterTests.perModelRestsAreSharedAndLeaveOtherModelsServed`: a rest set by one request must be
    /// seen by the next, so the answer that follows a 429 waits until the 429's report completed.
    @Test func anAnswerAfterARateLimitedKeyWaitsForItsReportButASuccessAloneDoesNot() {
        var machine = Self.prepared()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        _ = machine.answerHead(status: 429, headers: HTTPHeaders([("Retry-After", "20")]), plan: Self.plan, now: Self.start)
        let limited = machine.answerEnded(now: Self.start, intact: true)
        #expect(Self.judged(limited) == .rateLimited(cooldown: 20))
        #expect(limited.action == .acquireKey(excluding: [1]))
        _ = machine.keyOffered(.key(2), isKnown: true, storeReachable: true, now: Self.start)
        _ = machine.answerHead(status: 200, headers: HTTPHeaders([("Content-Length", "0")]), plan: Self.plan, now: Self.start)
        let served = machine.answerEnded(now: Self.start, intact: true)
        #expect(Self.judged(served) == .success)
        #expect(served.action == .awaitReports)
        #expect(machine.reportsCompleted().action == .write(.whole(status: 200, headers: HTTPHeaders([("Content-Length", "0")]), body: ByteBuffer()), then: .finish))
        #expect(machine.reportsCompleted() == Step(.none), "once")
    }

    @Test func aPoolRestedWhileReportingIsNamedInTheFinal429() {
        var machine = Self.prepared()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        _ = machine.answerHead(status: 429, headers: HTTPHeaders([("Retry-After", "20")]), plan: Self.plan, now: Self.start)
        _ = machine.answerEnded(now: Self.start, intact: true)
        machine.poolRested(PoolCooling(until: 0, reason: "3 of 4 keys rate limited"))
        #expect(machine.keyOffered(.unavailable(retryAfter: 20), isKnown: true, storeReachable: true, now: Self.start).action == .awaitReports)
        guard case .write(.failure(let failure), .finish) = machine.reportsCompleted().action else { Issue.record("no 429"); return }
        #expect(failure.status == 429)
        #expect(failure.message.contains("at once"), "\(failure.message)")
    }

    @Test func theReadTimerFiringEarlyIsArmedAgainAndOnTimeEndsTheAttempt() {
        var machine = Self.prepared(maxRetries: 0)
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        _ = machine.answerHead(status: 200, headers: HTTPHeaders([("Content-Length", "10")]), plan: Self.plan, now: Self.start + .seconds(10))
        #expect(machine.timerFired(now: Self.start + .seconds(30)) == Step(.armTimer(Self.start + .seconds(40))), "activity since it was armed")
        let timedOut = machine.timerFired(now: Self.start + .seconds(40))
        #expect(timedOut.upstream == .close)
        guard case .awaitReports = timedOut.action, case .write(.failure(let failure), .finish) = machine.reportsCompleted().action else {
            Issue.record("a stalled answer is a 504: \(timedOut)")
            return
        }
        #expect(failure.status == 504)
    }

    @Test func theOverallDeadlineBoundsTheTimerUntilTheAnswerStreams() {
        var machine = Self.prepared()
        let send = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start + .seconds(45))
        #expect(send.action == .send(keyID: 1, fresh: false, timer: Self.start + .seconds(60)), "PROXY_TOTAL_TIMEOUT comes first")
        _ = machine.answerHead(status: 200, headers: HTTPHeaders([("Content-Type", "text/event-stream")]), plan: Self.plan, now: Self.start + .seconds(50))
        #expect(machine.timerFired(now: Self.start + .seconds(60)) == Step(.armTimer(Self.start + .seconds(80))), "a stream is bounded by silence only")
        #expect(machine.timerFired(now: Self.start + .seconds(80)) == Step(upstream: .close, .closeClient))
    }

    // MARK: Answers

    @Test func aStreamHoldsItsHeadUntilBytesGoAndBreaksAsA502WhileItIsHeld() {
        var machine = Self.prepared()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        let start = machine.answerHead(status: 200, headers: HTTPHeaders([("Content-Type", "text/event-stream")]), plan: Self.plan, now: Self.start)
        #expect(start.action == .startStream(status: 200, headers: HTTPHeaders([("Content-Type", "text/event-stream")])))
        #expect(Self.judged(start) == .success)
        machine.holdStreamHead(HTTPResponseHead(version: .http1_1, status: .ok))
        let broke = machine.upstreamFailed(.noAnswer(requestFullySent: true, timedOut: false), now: Self.start)
        guard case .write(.failure(let failure), .finish) = broke.action else { Issue.record("a held head becomes a 502: \(broke)"); return }
        #expect(failure.status == 502)
    }

    @Test func aStreamThatBreaksAfterBytesWentIsACutConnection() {
        var machine = Self.prepared()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        _ = machine.answerHead(status: 200, headers: HTTPHeaders([("Content-Type", "text/event-stream")]), plan: Self.plan, now: Self.start)
        machine.holdStreamHead(HTTPResponseHead(version: .http1_1, status: .ok))
        #expect(machine.answerPart(ByteBuffer(string: "data: 1\n\n"), now: Self.start, margin: 0) { $0 } == Step(.relay(ByteBuffer(string: "data: 1\n\n"))))
        #expect(machine.takeHeldHead() != nil)
        #expect(machine.takeHeldHead() == nil, "the head goes once")
        #expect(machine.answerEnded(now: Self.start, intact: false) == Step(upstream: .close, .closeClient), "its compression broke")
        #expect(machine.closesConnection)
    }

    @Test func anErrorBodyIsReadPastItsLimitByTheKeysLongestFormAndAConvertedCutSuccessIsA502() {
        var machine = Self.prepared(conversion: .whole)
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        #expect(machine.answerHead(status: 200, headers: [:], plan: Self.plan, now: Self.start) == Step(.none), "a converted answer is read whole")
        let limit = Self.limits.convertedAnswerLimit
        _ = machine.answerPart(ByteBuffer(repeating: 1, count: limit), now: Self.start, margin: 5) { $0 }
        _ = machine.answerPart(ByteBuffer(repeating: 1, count: 10), now: Self.start, margin: 5) { $0 }
        guard case .write(.failure(let failure), .finish) = machine.answerEnded(now: Self.start, intact: true).action else {
            Issue.record("a converted success past its limit cannot be converted")
            return
        }
        #expect(failure.status == 502)

        var passed = Self.prepared(maxRetries: 0)
        _ = passed.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        _ = passed.answerHead(status: 500, headers: [:], plan: Self.plan, now: Self.start)
        _ = passed.answerPart(ByteBuffer(repeating: 1, count: Self.limits.errorBodyLimit + 100), now: Self.start, margin: 5) { $0 }
        _ = passed.answerEnded(now: Self.start, intact: true)
        guard case .write(.upstream(500, _, let body, let cut), .finish) = passed.reportsCompleted().action else { Issue.record("the 500 is passed on"); return }
        #expect(body.readableBytes == Self.limits.errorBodyLimit + 5)
        #expect(cut == Self.limits.errorBodyLimit)
    }

    @Test func aConvertedStreamingRequestStreamsItsSuccessAndReadsAnythingElseWhole() {
        var streamed = Self.prepared(conversion: .streams)
        _ = streamed.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        #expect(streamed.answerHead(status: 200, headers: [:], plan: Self.plan, now: Self.start).action == .startStream(status: 200, headers: [:]))
        var limited = Self.prepared(conversion: .streams)
        _ = limited.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        #expect(limited.answerHead(status: 429, headers: [:], plan: Self.plan, now: Self.start) == Step(.none), "its body is read, then judged")
        #expect(!limited.isStreaming)
    }

    @Test func anAnswerInAnEncodingThatCannotBeCheckedIsA502() {
        var machine = Self.prepared()
        _ = machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start)
        let plan = AnswerBodyPlan(route: .llm, status: 500, headers: HTTPHeaders([("Content-Encoding", "br")]), converts: false)
        #expect(machine.answerHead(status: 500, headers: [:], plan: plan, now: Self.start)
            == Step(upstream: .close, .write(.unreadable(encoding: "br"), then: .finish)))
    }

    @Test func theClientLeavingEndsTheExchangeOnceAndLateWakeUpsAreIgnored() {
        var machine = Self.prepared()
        #expect(machine.clientClosed() == Step(upstream: .close, .finish(completed: false)))
        #expect(machine.clientClosed() == Step(.none))
        #expect(machine.keyOffered(.key(1), isKnown: true, storeReachable: true, now: Self.start) == Step(.none))
        #expect(machine.waited(now: Self.start) == Step(.none))
        #expect(machine.timerFired(now: Self.start) == Step(.none))
    }
}
