import NIOCore
import NIOHTTP1
@testable import RequestIdentity
@testable import RotatorProxy
import Testing

/// Random pipelining against the connection machine, driven as its handler drives it: requests go out in arrival
/// order, each exactly once, none lost, and the queue never grows past its bound while reads are honoured.
@Suite struct ClientConnectionStateMachineFuzzTests {
    typealias Seeded = SeededRandom

    /// The handler's side: what reached an exchange or Hummingbird, and what is still to send or answer.
    struct Driver {
        var machine = ClientConnectionStateMachine(timeouts: ClientTimeouts(idle: .seconds(60), read: .seconds(5)), now: .uptimeNanoseconds(0))
        var toSend: [HTTPServerRequestPart] = []
        var sent: [Int] = []
        var started: [Int] = []
        var canRead = true
        var passThroughAnswerPending = false
        var closed = false
        /// Reads held at the bound: the bound was reached.
        var heldReads = 0

        static func id(_ head: HTTPRequestHead) -> Int { Int(head.uri.split(separator: "=").last!)! }

        mutating func send(request id: Int, proxied: Bool, bodyParts: Int) {
            let uri = proxied ? "/llm/e/v1/chat/completions?i=\(id)" : "/healthz?i=\(id)"
            toSend.append(.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: uri)))
            for _ in 0..<bodyParts { toSend.append(.body(ByteBuffer(repeating: 0x61, count: 8192))) }
            toSend.append(.end(nil))
            sent.append(id)
        }

        /// One part comes off the socket, if a read is outstanding.
        mutating func readOnePart() {
            guard canRead, !toSend.isEmpty, !closed else { return }
            execute(machine.partRead(toSend.removeFirst(), now: .uptimeNanoseconds(0)))
            canRead = closed ? false : machine.readRequested()
            if !canRead, !closed { heldReads += 1 }
        }

        mutating func execute(_ action: ClientConnectionStateMachine.PartAction) {
            switch action {
            case .none, .exchangeBody, .exchangeEnd: break
            case .startExchange(let head, _): started.append(Self.id(head))
            case .forward(let part, let then):
                if case .head(let head) = part {
                    started.append(Self.id(head))
                    passThroughAnswerPending = true
                }
                execute(then)
            case .close: closed = true
            }
        }

        mutating func execute(_ after: ClientConnectionStateMachine.AfterRequest) {
            switch after {
            case .nothing: break
            case .close: closed = true
            case .drain:
                while true {
                    switch machine.nextQueued(now: .uptimeNanoseconds(0)) {
                    case .route(let action): execute(action)
                    case .drained(let read):
                        if read { canRead = machine.readRequested() }
                        return
                    }
                }
            }
        }

        mutating func answerCurrent() {
            guard !closed else { return }
            switch machine.serving {
            case .proxied: execute(machine.exchangeFinished(closeConnection: false, now: .uptimeNanoseconds(0)))
            case .passThrough(_, true, _) where passThroughAnswerPending:
                passThroughAnswerPending = false
                _ = machine.answerPartWritten(.head(HTTPResponseHead(version: .http1_1, status: .ok)), now: .uptimeNanoseconds(0))
                execute(machine.answerPartWritten(.end(nil), now: .uptimeNanoseconds(0)))
            default: break
            }
        }
    }

    @Test(arguments: 0..<100) func pipelinedRequestsStartInArrivalOrderEachOnce(seed: UInt64) {
        var random = Seeded(state: seed)
        var driver = Driver()
        var next = 0
        // A burst first, read before any answer: it reaches the bound whatever follows.
        for _ in 0..<6 {
            driver.send(request: next, proxied: Bool.random(using: &random), bodyParts: Int.random(in: 0...12, using: &random))
            next += 1
        }
        for _ in 0..<100 { driver.readOnePart() }
        for _ in 0..<400 {
            switch Int.random(in: 0..<10, using: &random) {
            // Answers are rarer than reads, so the queue reaches its bound (4 requests, or 64 KiB in 8 KiB parts).
            case 0..<2:
                driver.send(request: next, proxied: Bool.random(using: &random), bodyParts: Int.random(in: 0...12, using: &random))
                next += 1
            case 2..<9: driver.readOnePart()
            default: driver.answerCurrent()
            }
            #expect(driver.machine.queuedRequests <= ClientConnectionStateMachine.queueBound.requests, "seed \(seed)")
            #expect(driver.started == Array(driver.sent.prefix(driver.started.count)), "seed \(seed): out of order or twice")
        }
        // The client stops sending; the connection serves everything that came.
        for _ in 0..<100_000 where !driver.toSend.isEmpty || driver.machine.serving != .idle {
            driver.readOnePart()
            driver.answerCurrent()
        }
        #expect(!driver.closed)
        #expect(driver.heldReads > 0, "seed \(seed): the sequence reached the bound")
        #expect(driver.started == driver.sent, "seed \(seed): every request served, in order")
    }
}
