import ClientAccess
import KeyCoordination
import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Testing

/// Random sequences of everything that can happen to an exchange, in any order the world allows (late timers, late
/// keys, connections that complete after their attempt, the client leaving at any point): the machine never reaches
/// an illegal transition (a `preconditionFailure` ends the run), the request ends exactly once with at most one answer,
/// every upstream connection it used is released or closed, and every attempt's key outcome is reported. A client
/// key's admission (answered at once or later, before or after the key) is settled or released exactly once, and
/// nothing goes upstream before it was admitted.
@Suite struct ExchangeStateMachineFuzzTests {
    typealias Machine = ExchangeStateMachine

    /// The world around one machine: what is outstanding, and what the invariants count.
    struct World {
        enum Upstream { case none, connecting(attempt: Int), open(answered: Bool) }

        var machine: Machine
        var random: SeededRandom
        var now = ExchangeStateMachineTests.start
        var bodyLeft: Int
        var keyPending = false
        var waitPending = false
        var catchUpWakeUps = 0
        var timer: NIODeadline?
        var reportsPending = false
        var upstream = Upstream.none
        /// Connections whose attempt is over but whose connect completes later.
        var lateConnects: [Int] = []
        var clientGone = false
        // Invariants.
        var finishes = 0
        var answers = 0
        /// The key whose attempt has not been judged yet.
        var owedKey: Int64?
        var log: [String] = []
        // The client key's admission.
        enum Admission { case none, pending, admitted, refused }
        var admission = Admission.none
        var quotaAnswerPending = false
        var renewalPending = false
        var sentAny = false
        /// Settles and releases (at the end, or of an admission that came after it).
        var quotaEnds = 0
        /// Picks given back (the quota refused the request they were for).
        var unpicks = 0
        static let quotaRequest = QuotaRequest(clientKey: 7, limits: ClientKeyLimits(rpm: 10, maxConcurrent: 2), reservedTokens: 100, lease: "r")
        static let ticket = QuotaTicket(request: quotaRequest, admittedAt: 0)

        init(seed: UInt64) {
            random = SeededRandom(state: seed)
            let length = [0, 10, 70_000].randomElement(using: &random)!
            bodyLeft = length
            var head = ExchangeStateMachineTests.head(method: Bool.random(using: &random) ? .POST : .GET, contentLength: length)
            if Bool.random(using: &random) { head.headers.add(name: "Connection", value: "close") }
            machine = Machine(head: head, maxBodyBytes: 64 * 1024, limits: ExchangeStateMachineTests.limits)
            let verdicts: [Machine.BodyCheck?] = [
                .none, .none, .none, .keyInBody, .refusalUnlessKey(ProxyRequestGate.Refusal(status: .notFound, kind: .notFound, message: "-", format: nil)), nil,
            ]
            if let check = verdicts.randomElement(using: &random)! {
                apply(machine.headChecked(check), "head checked")
            } else {
                apply(machine.headRefused(.unauthorized), "head refused")
            }
        }

        mutating func apply(_ step: Machine.Step, _ event: String) {
            log.append("\(event) -> \(step.action)")
            if step.upstream != .keep {
                upstream = .none
                timer = nil
            }
            if let judged = step.judged, judged.key == owedKey { owedKey = nil }
            if let call = step.quota {
                #expect(call == .release(Self.ticket), "an admission after the end is released")
                quotaEnds += 1
            }
            if step.unpick != nil {
                unpicks += 1
                #expect(admission == .refused && !sentAny && unpicks == 1, "a pick given back only once, after the quota refused")
            }
            switch step.action {
            case .none, .relay:
                break
            case .prepareRequest:
                if Int.random(in: 0..<8, using: &random) == 0 {
                    // A body that could not be converted: answered by the executor, no key asked for.
                    answers += 1
                    apply(machine.answeredLocally(), "answered locally")
                } else {
                    let conversion: Machine.ConversionReading? = [nil, nil, .whole, .streams].randomElement(using: &random)!
                    let keys = ExchangeStateMachineTests.keys(maxRetries: Int.random(in: 0...2, using: &random))
                    let quota = Bool.random(using: &random) ? Self.quotaRequest : nil
                    apply(machine.requestPrepared(keys: keys, conversion: conversion, quota: quota), "prepared")
                }
            case .admit:
                admission = .pending
                if Bool.random(using: &random) {
                    let answer = decision()
                    apply(machine.quotaDecided(answer, now: now), "admitted at once")
                } else {
                    quotaAnswerPending = true
                    apply(machine.quotaPending(), "admission pending")
                }
            case .renewQuota(let ticket):
                #expect(ticket == Self.ticket && admission == .admitted && finishes == 0, "renewed only while admitted and running")
                renewalPending = true
            case .acquireKey:
                keyPending = true
            case .send(let key, let fresh, let deadline):
                #expect(admission == .none || admission == .admitted, "sent before the admission said yes")
                sentAny = true
                if !fresh { owedKey = key }
                timer = timer ?? deadline
                if !fresh, Bool.random(using: &random) {
                    upstream = .open(answered: false)
                } else {
                    upstream = .connecting(attempt: machine.connectingAnew())
                }
            case .wait:
                waitPending = true
            case .catchUp:
                catchUpWakeUps = 2
            case .armTimer(let deadline):
                timer = timer ?? deadline
            case .awaitReports:
                reportsPending = true
            case .write(let answer, let then):
                answers += 1
                if case .unreadable = answer { owedKey = nil }
                if then == .finish { ended() }
            case .startStream:
                answers += 1
                machine.holdStreamHead(HTTPResponseHead(version: .http1_1, status: .ok))
            case .endStream, .closeClient:
                ended()
            case .finish:
                ended()
            }
        }

        /// A random answer of the quota (its admission is remembered).
        mutating func decision() -> QuotaDecision {
            if Int.random(in: 0..<3, using: &random) == 0 {
                if admission == .pending { admission = .refused }
                return .refused(limit: .rpm, value: 10, retryAfter: 3, states: [])
            }
            if admission == .pending { admission = .admitted }
            if admission == .admitted, finishes == 0 { renewalPending = true }
            return .admitted(Self.ticket, states: [])
        }

        mutating func ended() {
            finishes += 1
            timer = nil
            switch machine.exchangeEnding() {
            case .settle(let ticket)?:
                #expect(ticket == Self.ticket && sentAny, "settled only when something went upstream")
                quotaEnds += 1
            case .release(let ticket)?:
                #expect(ticket == Self.ticket && !sentAny, "released only when nothing went upstream")
                quotaEnds += 1
            case nil:
                break
            }
            // An abandoned attempt (the client left) owes nothing.
            if clientGone { owedKey = nil }
        }

        /// One thing the world may do now; false when nothing is left.
        mutating func act() -> Bool {
            var choices: [(String, (inout World) -> Void)] = []
            if machine.isReceivingRequest, !machine.isFinished || bodyLeft > 0 {
                if bodyLeft > 0 {
                    choices.append(("body", { world in
                        let part = min(world.bodyLeft, Int.random(in: 1...40_000, using: &world.random))
                        world.bodyLeft -= part
                        world.apply(world.machine.bodyPart(ByteBuffer(repeating: 0x41, count: part)), "body \(part)")
                    }))
                } else {
                    choices.append(("end", { world in
                        let key = Bool.random(using: &world.random)
                        world.apply(world.machine.requestEnded { key ? .valid($0) : .missing }, "end")
                    }))
                }
                choices.append(("request timeout", { world in world.apply(world.machine.requestTimedOut(message: "late"), "request timeout") }))
            }
            if !clientGone {
                choices.append(("client closed", { world in
                    world.clientGone = true
                    world.apply(world.machine.clientClosed(), "client closed")
                }))
            }
            if keyPending {
                choices.append(("key", { world in
                    world.keyPending = false
                    let offers: [KeyAcquisition] = [.key(1), .key(2), .key(3), .unavailable(retryAfter: 0), .unavailable(retryAfter: 0.5), .unavailable(retryAfter: 9), .empty]
                    let offer = offers.randomElement(using: &world.random)!
                    world.apply(world.machine.keyOffered(offer, isKnown: Int.random(in: 0..<5, using: &world.random) > 0,
                                                         storeReachable: Bool.random(using: &world.random), now: world.now), "offered \(offer)")
                }))
            }
            if quotaAnswerPending {
                choices.append(("quota answer", { world in
                    world.quotaAnswerPending = false
                    if Int.random(in: 0..<10, using: &world.random) == 0 {
                        if world.admission == .pending { world.admission = .refused }
                        world.apply(world.machine.quotaFailed(), "quota failed")
                    } else {
                        let answer = world.decision()
                        world.apply(world.machine.quotaDecided(answer, now: world.now), "quota answered")
                    }
                }))
            }
            if renewalPending {
                choices.append(("renewal due", { world in
                    world.renewalPending = false
                    world.apply(world.machine.renewalDue(), "renewal due")
                }))
            }
            if waitPending {
                choices.append(("waited", { world in
                    world.waitPending = false
                    world.apply(world.machine.waited(now: world.now), "waited")
                }))
            }
            if catchUpWakeUps > 0 {
                choices.append(("caught up", { world in
                    world.catchUpWakeUps -= 1
                    world.apply(world.machine.caughtUp(stillUnknown: { $0 }, now: world.now), "caught up")
                }))
            }
            if reportsPending {
                choices.append(("reports", { world in
                    world.reportsPending = false
                    world.apply(world.machine.reportsCompleted(), "reports completed")
                }))
            }
            if let deadline = timer {
                choices.append(("timer", { world in
                    world.timer = nil
                    world.now = max(world.now, deadline) + .milliseconds(Int64.random(in: 0...10, using: &world.random))
                    world.apply(world.machine.timerFired(now: world.now), "timer")
                }))
            }
            for attempt in lateConnects {
                choices.append(("late connect", { world in
                    world.lateConnects.removeAll { $0 == attempt }
                    let wanted = world.machine.connected(attempt: attempt, now: world.now)
                    #expect(!wanted, "a connection for an attempt that is over")
                }))
            }
            switch upstream {
            case .none:
                break
            case .connecting(let attempt):
                choices.append(("connect", { world in
                    guard world.machine.connected(attempt: attempt, now: world.now) else { return }
                    if Int.random(in: 0..<4, using: &world.random) == 0 {
                        world.upstream = .none
                        world.apply(world.machine.upstreamFailed(.notSent(timedOut: Bool.random(using: &world.random)), now: world.now), "connect failed")
                    } else {
                        world.upstream = .open(answered: false)
                    }
                }))
            case .open(let answered):
                if !answered {
                    choices.append(("head", { world in
                        world.upstream = .open(answered: true)
                        let status = [200, 200, 200, 429, 401, 500, 503].randomElement(using: &world.random)!
                        var headers = HTTPHeaders()
                        switch Int.random(in: 0..<3, using: &world.random) {
                        case 0: headers.add(name: "Content-Length", value: String(Int.random(in: 0...20, using: &world.random)))
                        case 1: headers.add(name: "Content-Type", value: "text/event-stream")
                        default: break
                        }
                        let encodings = [nil, nil, nil, "gzip", "br"]
                        if let encoding = encodings.randomElement(using: &world.random)! { headers.add(name: "Content-Encoding", value: encoding) }
                        let plan = AnswerBodyPlan(route: .llm, status: status, headers: headers, converts: false)
                        world.apply(world.machine.answerHead(status: status, headers: plan.clientFacing(headers), plan: plan, now: world.now), "head \(status)")
                    }))
                } else {
                    choices.append(("part", { world in
                        let part = ByteBuffer(repeating: 0x42, count: Int.random(in: 0...12, using: &world.random))
                        world.apply(world.machine.answerPart(part, now: world.now, margin: 3) { $0 }, "part")
                        _ = world.machine.takeHeldHead()
                    }))
                    choices.append(("answer end", { world in
                        world.apply(world.machine.answerEnded(now: world.now, intact: Int.random(in: 0..<6, using: &world.random) > 0), "answer end")
                    }))
                }
                choices.append(("upstream failed", { world in
                    world.upstream = .none
                    let failures: [TransportFailure] = [.noAnswer(requestFullySent: true, timedOut: false), .tls("bad certificate")]
                    world.apply(world.machine.upstreamFailed(failures.randomElement(using: &world.random)!, now: world.now), "upstream failed")
                }))
            }
            guard !choices.isEmpty else { return false }
            let before = upstream
            let choice = choices.randomElement(using: &random)!
            choice.1(&self)
            // A connection still being made when its attempt ended completes later, unused.
            if case .connecting(let attempt) = before, case .none = upstream, choice.0 != "connect" { lateConnects.append(attempt) }
            now = now + .milliseconds(Int64.random(in: 0...3000, using: &random))
            return true
        }
    }

    @Test(arguments: 0..<8)
    func randomEventSequencesEndEveryRequestExactlyOnce(batch: UInt64) {
        for seed in (batch * 250)..<((batch + 1) * 250) {
            var world = World(seed: seed)
            var steps = 0
            while steps < 400, world.act() {
                steps += 1
                #expect(world.finishes <= 1, "seed \(seed): ended twice\n\(world.log.joined(separator: "\n"))")
                #expect(world.answers <= 1, "seed \(seed): answered twice\n\(world.log.joined(separator: "\n"))")
                if world.finishes > 1 || world.answers > 1 { return }
            }
            if !world.clientGone {
                // A stream may go on past the run's length: the client leaves.
                world.clientGone = true
                world.apply(world.machine.clientClosed(), "client closed")
            }
            if world.quotaAnswerPending {
                // The quota answers after the end.
                world.quotaAnswerPending = false
                let answer = world.decision()
                world.apply(world.machine.quotaDecided(answer, now: world.now), "quota answered late")
            }
            let admitted = world.admission == .admitted ? 1 : 0
            #expect(world.quotaEnds == admitted, "seed \(seed): \(admitted) admission(s), \(world.quotaEnds) settle/release\n\(world.log.joined(separator: "\n"))")
            #expect(world.finishes == 1, "seed \(seed): never ended\n\(world.log.joined(separator: "\n"))")
            #expect(world.machine.isFinished)
            if case .none = world.upstream {} else { Issue.record("seed \(seed): an upstream connection was left open\n\(world.log.joined(separator: "\n"))") }
            #expect(world.owedKey == nil, "seed \(seed): key \(world.owedKey ?? -1)'s outcome was never reported\n\(world.log.joined(separator: "\n"))")
        }
    }
}
