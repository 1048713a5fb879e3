import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Testing

/// The client connection's decisions as event -> action, step by step, with the clock passed in: no channel, no
/// socket, no waiting.
@Suite struct ClientConnectionStateMachineTests {
    typealias Machine = ClientConnectionStateMachine

    static let timeouts = ClientTimeouts(idle: .seconds(60), read: .seconds(5), request: .seconds(12))
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func at(_ seconds: Int64) -> NIODeadline { start + .seconds(seconds) }

    static func head(_ uri: String, method: HTTPMethod = .POST) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: .http1_1, method: method, uri: uri))
    }

    static let proxied = head("/llm/e/v1/chat/completions")
    static let health = head("/healthz", method: .GET)
    static let answerHead = HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok))

    static func started(_ part: HTTPServerRequestPart) -> Machine.PartAction {
        guard case .head(let head) = part, let route = ProxyRoute(uri: head.uri) else { return .none }
        return .startExchange(head, route)
    }

    /// The machine behind a reference, so that `#expect` can show each event's action (it cannot call a mutating method).
    final class Connection {
        var machine = Machine(timeouts: ClientConnectionStateMachineTests.timeouts, now: ClientConnectionStateMachineTests.start)
        var serving: Machine.Serving { machine.serving }
        var queuedRequests: Int { machine.queuedRequests }
        var firstDeadline: NIODeadline { machine.firstDeadline }
        func partRead(_ part: HTTPServerRequestPart, now: NIODeadline) -> Machine.PartAction { machine.partRead(part, now: now) }
        func readComplete(now: NIODeadline) { machine.readComplete(now: now) }
        func answerPartWritten(_ part: HTTPServerResponsePart, now: NIODeadline) -> Machine.AfterRequest { machine.answerPartWritten(part, now: now) }
        func exchangeFinished(closeConnection: Bool, now: NIODeadline) -> Machine.AfterRequest {
            machine.exchangeFinished(closeConnection: closeConnection, now: now)
        }
        func nextQueued(now: NIODeadline) -> Machine.DrainStep { machine.nextQueued(now: now) }
        func readRequested() -> Bool { machine.readRequested() }
        func quiesce() -> Bool { machine.quiesce() }
        func errorCaught() -> Machine.ErrorAction { machine.errorCaught() }
        func timerFired(now: NIODeadline) -> Machine.TimerAction? { machine.timerFired(now: now) }
    }

    // MARK: One request at a time

    @Test func aProxiedRequestGoesToItsExchangeAndTheConnectionServesTheNext() {
        let machine = Connection()
        #expect(machine.partRead(Self.proxied, now: Self.at(0)) == Self.started(Self.proxied))
        #expect(machine.partRead(.body(ByteBuffer(string: "{}")), now: Self.at(0)) == .exchangeBody(ByteBuffer(string: "{}")))
        #expect(machine.partRead(.end(nil), now: Self.at(0)) == .exchangeEnd)
        #expect(machine.serving == .proxied(requestOpen: false))
        #expect(machine.exchangeFinished(closeConnection: false, now: Self.at(1)) == .nothing)
        #expect(machine.serving == .idle)
        #expect(machine.partRead(Self.proxied, now: Self.at(2)) == Self.started(Self.proxied))
    }

    @Test func aPassThroughRequestIsOverWhenBothItsRequestAndItsAnswerHaveEnded() {
        let machine = Connection()
        #expect(machine.partRead(Self.health, now: Self.at(0)) == .forward(Self.health, then: .nothing))
        // Hummingbird answers before the request's end has arrived.
        #expect(machine.answerPartWritten(Self.answerHead, now: Self.at(0)) == .nothing)
        #expect(machine.answerPartWritten(.end(nil), now: Self.at(0)) == .nothing)
        #expect(machine.serving == .passThrough(requestOpen: true, responseOpen: false, answered: true))
        #expect(machine.partRead(.end(nil), now: Self.at(0)) == .forward(.end(nil), then: .nothing))
        #expect(machine.serving == .idle)
    }

    @Test func anExchangeThatClosesWhileItsBodyArrivesDropsTheRestThenCloses() {
        let machine = Connection()
        _ = machine.partRead(Self.proxied, now: Self.at(0))
        #expect(machine.exchangeFinished(closeConnection: true, now: Self.at(0)) == .nothing, "a refusal was written; the body still comes")
        #expect(machine.serving == .discarding)
        #expect(machine.partRead(.body(ByteBuffer(string: "rest")), now: Self.at(0)) == .none)
        #expect(machine.partRead(.end(nil), now: Self.at(0)) == .close)
        #expect(machine.partRead(Self.proxied, now: Self.at(0)) == .none, "nothing is read after the close")
    }

    // MARK: Pipelining and the read bound

    @Test func requestsPipelinedBehindAPendingAnswerWaitWithoutHoldingReadsUntilTheBound() {
        let machine = Connection()
        _ = machine.partRead(Self.proxied, now: Self.at(0))
        _ = machine.partRead(.end(nil), now: Self.at(0))
        #expect(machine.readRequested(), "a request waiting for its answer does not stop the reads")
        for waiting in 1...Machine.queueBound.requests {
            #expect(machine.readRequested(), "\(waiting - 1) waiting: the socket is still read")
            #expect(machine.partRead(Self.health, now: Self.at(0)) == .none)
            #expect(machine.partRead(.end(nil), now: Self.at(0)) == .none)
        }
        #expect(!machine.readRequested(), "\(Machine.queueBound.requests) waiting: the read is held")
        #expect(!machine.readRequested(), "and held again, still once")

        #expect(machine.exchangeFinished(closeConnection: false, now: Self.at(1)) == .drain)
        #expect(machine.nextQueued(now: Self.at(1)) == .route(.forward(Self.health, then: .nothing)))
        #expect(machine.nextQueued(now: Self.at(1)) == .route(.forward(.end(nil), then: .nothing)))
        #expect(machine.nextQueued(now: Self.at(1)) == .drained(read: true), "below the bound: the held read goes out, once")
        #expect(machine.queuedRequests == Machine.queueBound.requests - 1)

        for _ in 1..<Machine.queueBound.requests {
            _ = machine.answerPartWritten(Self.answerHead, now: Self.at(1))
            #expect(machine.answerPartWritten(.end(nil), now: Self.at(1)) == .drain)
            #expect(machine.nextQueued(now: Self.at(1)) == .route(.forward(Self.health, then: .nothing)))
            #expect(machine.nextQueued(now: Self.at(1)) == .route(.forward(.end(nil), then: .nothing)))
            #expect(machine.nextQueued(now: Self.at(1)) == .drained(read: false), "no read was held since")
        }
        _ = machine.answerPartWritten(Self.answerHead, now: Self.at(1))
        #expect(machine.answerPartWritten(.end(nil), now: Self.at(1)) == .nothing, "nothing waits")
        #expect(machine.serving == .idle)
    }

    @Test func aPipelinedBodyHoldsTheReadsAt64KiB() {
        let machine = Connection()
        _ = machine.partRead(Self.proxied, now: Self.at(0))
        _ = machine.partRead(.end(nil), now: Self.at(0))
        _ = machine.partRead(Self.proxied, now: Self.at(0))
        _ = machine.partRead(.body(ByteBuffer(repeating: 0x61, count: Machine.queueBound.bodyBytes - 1)), now: Self.at(0))
        #expect(machine.readRequested(), "one byte under the bound")
        _ = machine.partRead(.body(ByteBuffer(repeating: 0x61, count: 1)), now: Self.at(0))
        #expect(!machine.readRequested())
        #expect(machine.exchangeFinished(closeConnection: false, now: Self.at(1)) == .drain)
        #expect(machine.nextQueued(now: Self.at(1)) == .route(Self.started(Self.proxied)))
        #expect(machine.nextQueued(now: Self.at(1)) == .route(.exchangeBody(ByteBuffer(repeating: 0x61, count: Machine.queueBound.bodyBytes - 1))))
        #expect(machine.nextQueued(now: Self.at(1)) == .route(.exchangeBody(ByteBuffer(repeating: 0x61, count: 1))))
        #expect(machine.nextQueued(now: Self.at(1)) == .drained(read: true), "the waiting body went to its exchange: reading resumes")
    }

    @Test func aProxiedRequestBehindAPassThroughOneStartsOnceThatAnswerHasEnded() {
        let machine = Connection()
        _ = machine.partRead(Self.health, now: Self.at(0))
        _ = machine.partRead(.end(nil), now: Self.at(0))
        #expect(machine.partRead(Self.proxied, now: Self.at(0)) == .none)
        #expect(machine.partRead(.end(nil), now: Self.at(0)) == .none, "the queue keeps arrival order: the end waits too")
        #expect(machine.answerPartWritten(.end(nil), now: Self.at(1)) == .drain)
        #expect(machine.nextQueued(now: Self.at(1)) == .route(Self.started(Self.proxied)))
        #expect(machine.nextQueued(now: Self.at(1)) == .route(.exchangeEnd))
        #expect(machine.nextQueued(now: Self.at(1)) == .drained(read: false))
    }

    @Test func anExchangeThatFinishesWhileTheQueueDrainsDoesNotStartASecondDrain() {
        let machine = Connection()
        _ = machine.partRead(Self.health, now: Self.at(0))
        _ = machine.partRead(.end(nil), now: Self.at(0))
        _ = machine.partRead(Self.proxied, now: Self.at(0))
        _ = machine.partRead(.end(nil), now: Self.at(0))
        _ = machine.partRead(Self.health, now: Self.at(0))
        #expect(machine.answerPartWritten(.end(nil), now: Self.at(1)) == .drain)
        #expect(machine.nextQueued(now: Self.at(1)) == .route(Self.started(Self.proxied)))
        // The exchange refuses at once, inside the drain: the running drain goes on.
        #expect(machine.exchangeFinished(closeConnection: false, now: Self.at(1)) == .nothing)
        #expect(machine.nextQueued(now: Self.at(1)) == .route(.none), "the end of a request already answered is dropped")
        #expect(machine.nextQueued(now: Self.at(1)) == .route(.forward(Self.health, then: .nothing)))
        #expect(machine.nextQueued(now: Self.at(1)) == .drained(read: false))
    }

    // MARK: Quiesce and errors

    @Test func quiesceClosesAfterTheProxiedAnswerAndLetsHummingbirdCloseItsOwn() {
        let machine = Connection()
        #expect(machine.quiesce(), "idle: Hummingbird's connection handler closes now")
        let proxied = Connection()
        _ = proxied.partRead(Self.proxied, now: Self.at(0))
        _ = proxied.partRead(.end(nil), now: Self.at(0))
        #expect(!proxied.quiesce(), "a proxied answer is still going out")
        #expect(proxied.exchangeFinished(closeConnection: false, now: Self.at(1)) == .close)
        #expect(proxied.exchangeFinished(closeConnection: false, now: Self.at(1)) == .nothing, "an exchange abandoned after the close")
    }

    @Test func quiesceDropsRequestsWaitingBehindTheProxiedAnswer() {
        let machine = Connection()
        _ = machine.partRead(Self.proxied, now: Self.at(0))
        _ = machine.partRead(.end(nil), now: Self.at(0))
        _ = machine.partRead(Self.health, now: Self.at(0))
        _ = machine.partRead(.end(nil), now: Self.at(0))
        #expect(!machine.quiesce())
        #expect(machine.exchangeFinished(closeConnection: false, now: Self.at(1)) == .close, "quiescing: the connection closes after the answer, the waiting requests unserved")
        #expect(machine.serving == .closed)
    }

    @Test func aMalformedRequestBehindAProxiedOneClosesAndAbandonsTheExchange() {
        let machine = Connection()
        #expect(machine.errorCaught() == .forward, "idle: Hummingbird answers the 400")
        _ = machine.partRead(Self.proxied, now: Self.at(0))
        #expect(machine.errorCaught() == .close(abandonExchange: true))
        #expect(machine.errorCaught() == .ignore, "closed already")
    }

    // MARK: Timeouts

    @Test func anIdleConnectionClosesAtTheIdleTimeoutAndNotBefore() {
        let machine = Connection()
        #expect(machine.firstDeadline == Self.at(5), "the timer looks again at the read timeout, so a request that starts unseen is bounded")
        #expect(machine.timerFired(now: Self.at(5)) == .arm(Self.at(10)))
        #expect(machine.timerFired(now: Self.at(59)) == .arm(Self.at(60)))
        #expect(machine.timerFired(now: Self.at(60)) == .close)
        #expect(machine.timerFired(now: Self.at(65)) == nil, "closed: the timer stops")
    }

    @Test func aClientThatStopsMidRequestIsCutOffAfterTheReadTimeout() {
        let machine = Connection()
        _ = machine.partRead(Self.proxied, now: Self.at(0))
        #expect(machine.timerFired(now: Self.at(4)) == .arm(Self.at(5)))
        _ = machine.partRead(.body(ByteBuffer(string: "{")), now: Self.at(4))
        #expect(machine.timerFired(now: Self.at(5)) == .arm(Self.at(9)), "a byte came at 4 s: the read timeout runs from there")
        #expect(machine.timerFired(now: Self.at(9)) == .cutOff)
        #expect(machine.serving == .closed)
    }

    @Test func anAnswerGoingOutIsBoundedByTheUpstreamNotByTheReadTimeout() {
        let machine = Connection()
        _ = machine.partRead(Self.proxied, now: Self.at(0))
        _ = machine.partRead(.end(nil), now: Self.at(0))
        #expect(machine.timerFired(now: Self.at(30)) == .arm(Self.at(35)))
    }

    @Test func aTricklingRequestTimesOutAtTheRequestTimeout() {
        let machine = Connection()
        _ = machine.partRead(Self.proxied, now: Self.at(0))
        for second in stride(from: Int64(4), through: 8, by: 4) {
            _ = machine.partRead(.body(ByteBuffer(string: "a")), now: Self.at(second))
            #expect(machine.timerFired(now: Self.at(second)) == .arm(Self.at(min(second + 5, 12))))
        }
        #expect(machine.timerFired(now: Self.at(12)) == .requestTimedOut(.exchange))
        #expect(machine.serving == .closed)
    }

    @Test func anUnfinishedHeadTimesOutWithTheConnectionsOwn408() {
        let machine = Connection()
        machine.readComplete(now: Self.at(1))  // bytes that make no part yet: a head is arriving
        #expect(machine.timerFired(now: Self.at(5)) == .arm(Self.at(10)))
        #expect(machine.timerFired(now: Self.at(13)) == .requestTimedOut(.answer))
    }

    @Test func aPassThroughRequestAlreadyAnsweredTimesOutWithoutA408() {
        let machine = Connection()
        _ = machine.partRead(Self.health, now: Self.at(0))
        _ = machine.answerPartWritten(Self.answerHead, now: Self.at(0))
        #expect(machine.timerFired(now: Self.at(12)) == .requestTimedOut(.none))
    }
}
