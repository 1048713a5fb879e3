import ClientAccess
import KeyCoordination
import NIOCore
import NIOHTTP1

/// Every decision of one proxied request, from its head to the last byte of its answer, as a value type: the executor
/// (`ProxyExchange`) feeds it what happened (a body part, a key offered, an answer's head, a part, its end, a failure,
/// the timer) with the loop's clock, and performs the `Step` it returns: the upstream connection to keep, release or
/// close, the key outcomes to report, then one action (read on, write, send, ask for a key, wait, arm the timer,
/// finish). It does no I/O, so every rule is tested without sockets; an event the current state cannot receive is a
/// `preconditionFailure`.
///
/// The key/attempt decisions (which key, whose fault, retry or answer) are the sub-machine `ProxyStateMachine`; this
/// adds the request's side: reading the body and its limits, draining a refused body, the stale keep-alive retry, how
/// an answer is read (whole, error body, stream) and cut, the read timeout, and that the request ends exactly once.
struct ExchangeStateMachine {
    private enum State {
        case head
        case receiving(body: ByteBuffer, check: BodyCheck)
        /// A refusal went out; the body's small rest is read and dropped.
        case refusedDraining
        /// The body is complete: the executor builds the upstream request.
        case preparing
        /// A client key's admission is asked for; the first key is asked for alongside once the quota cannot answer at
        /// once (`keyAsked`), and an offer that comes first is held until the quota answers.
        case admitting(keyAsked: Bool, heldOffer: HeldOffer?)
        case awaitingKey
        case catchingUp
        /// The request went out on `key`; no answer head yet.
        case sending(key: Int64, connection: Connection)
        case readingWhole(status: Int, headers: HTTPHeaders, body: ByteBuffer, declared: Int)
        case readingErrorBody(status: Int, headers: HTTPHeaders, body: ByteBuffer)
        case streaming(heldHead: HTTPResponseHead?)
        /// The answer is decided; it goes out once the key outcomes reported so far completed.
        case awaitingReports(Answer)
        case finished
        /// Only while a case's buffer is being appended to (no copy on write).
        case modifying
    }

    private struct HeldOffer {
        var acquisition: KeyAcquisition
        var isKnown: Bool
        var storeReachable: Bool
    }

    /// Where the client key's admission stands: exactly one settle or release follows an admission.
    private enum QuotaProgress {
        /// An operator key, a key without limits, or no quota wired.
        case none
        case pending
        /// The exchange ended while the admission was pending: an admission that comes now is released.
        case abandoned
        indirect case admitted(QuotaTicket)
        /// Refused while the pool's pick was in flight: the key it offers is given back (`Step.unpick`).
        case refusedBeforePick
        /// Refused, settled or released.
        case closed
    }

    private enum Connection {
        /// From the pool: it may have been closed by the upstream meanwhile.
        case reused
        case new
        /// A new one after a reused one failed before its answer (tried once).
        case newAfterStale
    }

    /// A refused request's unread body this large or larger (or of unknown length) is not worth reading: the
    /// connection closes instead.
    static let bodyWorthDraining = 64 * 1024
    /// SwiftNIO's default allocator (the one every channel uses): the whole answer's buffer is sized from its head.
    private static let allocator = ByteBufferAllocator()

    private var state = State.head
    private let method: HTTPMethod
    /// The request's headers (its declared length is read only when a refusal needs it).
    private let requestHeaders: HTTPHeaders
    private let maxBodyBytes: Int
    let limits: ProxyStateMachine.Limits
    /// The key/attempt sub-machine, from the request's end on.
    private(set) var keys: ProxyStateMachine?
    /// How a converted request's answers are read (nil: not converted).
    private var conversion: ConversionReading?
    /// The client's request is still arriving (its end not yet read).
    private(set) var isReceivingRequest = true
    /// The connection must close after this exchange (a refusal before the body was read, `Connection: close`).
    private(set) var closesConnection: Bool
    /// The last error body read was longer than its limit and cut there.
    private var lastAnswerCut = false
    /// This request reported a key outcome other than success: its answer waits for those reports.
    private var reportedFailures = false
    private var lastUpstreamActivity = NIODeadline.uptimeNanoseconds(0)
    private var sentAt = NIODeadline.uptimeNanoseconds(0)
    /// Requests sent upstream (stale keep-alive retries included): a connection made for an earlier one is not used.
    private var sends = 0
    /// For metrics and the access log.
    private(set) var record = Record()
    private var quota = QuotaProgress.none

    init(head: HTTPRequestHead, maxBodyBytes: Int, limits: ProxyStateMachine.Limits) {
        self.method = head.method
        self.requestHeaders = head.headers
        self.maxBodyBytes = maxBodyBytes
        self.limits = limits
        self.closesConnection = !head.isKeepAlive
    }

    var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    // MARK: The client's request

    /// The gate's verdict on the head: refuse now, or read the body.
    mutating func headChecked(_ check: BodyCheck) -> Step {
        guard case .head = state else { preconditionFailure("head checked twice") }
        state = .receiving(body: ByteBuffer(), check: check)
        return Step(.none)
    }

    /// Refused on its head (or its preflight answered): nothing more is read of this request than its small rest.
    mutating func headRefused(_ refusal: Refusal) -> Step {
        guard case .head = state else { preconditionFailure("head refused after it was checked") }
        return refuse(refusal)
    }

    mutating func bodyPart(_ part: ByteBuffer) -> Step {
        switch state {
        case .receiving(var body, let check):
            let authenticated = check == .none
            let limit = authenticated ? maxBodyBytes : min(maxBodyBytes, ProxyRequestGate.bodyKeyMaxBytes)
            guard body.readableBytes + part.readableBytes <= limit else {
                return refuse(authenticated ? .tooLarge(limit: maxBodyBytes) : .tooLargeForBodyKey(limit: maxBodyBytes))
            }
            state = .modifying
            if body.readableBytes == 0 && body.capacity == 0 {
                body = part
            } else {
                var part = part
                body.writeBuffer(&part)
            }
            state = .receiving(body: body, check: check)
            return Step(.none)
        case .refusedDraining, .finished:
            // Dropped: a refused body's rest, or parts behind an exchange that ended (the front handler discards).
            return Step(.none)
        case .head, .preparing, .admitting, .awaitingKey, .catchingUp, .sending, .readingWhole, .readingErrorBody, .streaming, .awaitingReports,
            .modifying:
            preconditionFailure("a body part after the request's end")
        }
    }

    /// The request's end. `bodyKey`: what the body's `api_key` holds (a valid proxy or client key: the body without it;
    /// a client key refused here; none); the client's key never goes upstream.
    mutating func requestEnded(bodyKey: (ByteBuffer) -> BodyKey) -> Step {
        isReceivingRequest = false
        switch state {
        case .receiving(let body, let check):
            let key = bodyKey(body)
            switch (check, key) {
            case (.refusalUnlessKey(let refusal), .valid):
                return refuse(.given(refusal))
            case (.refusalUnlessKey, .refused(let refusal)), (.keyInBody, .refused(let refusal)):
                return refuse(.given(refusal))
            case (.refusalUnlessKey, .missing), (.keyInBody, .missing):
                return refuse(.unauthorized)
            case (.none, .valid(let stripped)), (.keyInBody, .valid(let stripped)):
                state = .preparing
                return Step(.prepareRequest(body: stripped))
            case (.none, .refused), (.none, .missing):
                state = .preparing
                return Step(.prepareRequest(body: body))
            }
        case .refusedDraining:
            state = .finished
            return Step(.finish(completed: true))
        case .finished:
            return Step(.none)
        case .head, .preparing, .admitting, .awaitingKey, .catchingUp, .sending, .readingWhole, .readingErrorBody, .streaming, .awaitingReports,
            .modifying:
            preconditionFailure("the request ended twice")
        }
    }

    /// The request is built: the key machine starts. `conversion`: how a converted request's answers are read.
    /// `quota`: what a client key with limits asks of them; it is admitted first (exactly once), before anything goes
    /// upstream.
    mutating func requestPrepared(keys: ProxyStateMachine, conversion: ConversionReading?, quota request: QuotaRequest? = nil) -> Step {
        guard case .preparing = state else { preconditionFailure("request prepared outside .preparing") }
        self.keys = keys
        self.conversion = conversion
        if let request {
            quota = .pending
            state = .admitting(keyAsked: false, heldOffer: nil)
            return Step(.admit(request))
        }
        state = .awaitingKey
        return Step(.acquireKey(excluding: []))
    }

    /// The prepared request is refused before anything is asked for it (a model the client key may not name).
    mutating func preparedRefused(_ refusal: ProxyRequestGate.Refusal) -> Step {
        guard case .preparing = state else { preconditionFailure("refused after preparing") }
        return refuse(.given(refusal))
    }

    // MARK: The client key's admission

    /// The quota could not answer at once (its answer comes through Redis): the first key is asked for in the same
    /// tick, so both go out in one write; whichever answers first waits for the other.
    mutating func quotaPending() -> Step {
        guard case .admitting(false, nil) = state else { preconditionFailure("a pending admission outside .admitting") }
        state = .admitting(keyAsked: true, heldOffer: nil)
        return Step(.acquireKey(excluding: []))
    }

    /// The quota's answer. Admitted: the key machine goes on (with a key already offered, or asks for one). Refused: a
    /// 429 naming the limit; a key already offered is not used. After the exchange ended: an admission is released.
    mutating func quotaDecided(_ decision: QuotaDecision, now: NIODeadline) -> Step {
        switch state {
        case .admitting(let keyAsked, let held):
            switch decision {
            case .admitted(let ticket, _):
                quota = .admitted(ticket)
                state = .awaitingKey
                if let held {
                    return follow(keys!.handle(.keyOffered(held.acquisition, isKnown: held.isKnown, storeReachable: held.storeReachable, now: now)),
                                  now: now)
                }
                return Step(keyAsked ? .none : .acquireKey(excluding: []))
            case .refused(let limit, let value, let retryAfter, _):
                // The pool's pick for this request goes unused: it is given back, now (held) or when it comes.
                quota = keyAsked && held == nil ? .refusedBeforePick : .closed
                var step = refuse(.quota(limit: limit, value: value, retryAfter: retryAfter))
                if case .key(let id)? = held?.acquisition { step.unpick = id }
                return step
            }
        case .finished:
            guard case .abandoned = quota else { return Step(.none) }
            quota = .closed
            var step = Step(.none)
            if case .admitted(let ticket, _) = decision { step.quota = .release(ticket) }
            return step
        default:
            preconditionFailure("a quota decision while none was asked for")
        }
    }

    /// The quota could not be asked (its store failed without a fallback): 503, nothing taken.
    mutating func quotaFailed() -> Step {
        switch state {
        case .admitting:
            quota = .closed
            return Step(deliver(.failure(ProxyFailure(
                status: 503, kind: .upstreamUnavailable, message: "the client key's limits could not be checked; retry shortly", retryAfter: 1
            ))))
        case .finished:
            quota = .closed
            return Step(.none)
        default:
            preconditionFailure("a quota failure while none was asked for")
        }
    }

    /// The concurrency lease's renewal is due (every `QuotaLease.renewEvery` s while the admitted request runs).
    mutating func renewalDue() -> Step {
        guard case .admitted(let ticket) = quota, !isFinished else { return Step(.none) }
        return Step(.renewQuota(ticket))
    }

    /// Whether the admitted request holds a concurrency lease to renew.
    var renewsLease: Bool {
        guard case .admitted(let ticket) = quota, !isFinished else { return false }
        return ticket.request.limits.maxConcurrent != nil
    }

    /// The exchange ends (whichever way): an admitted request is settled when anything went upstream and released
    /// otherwise (the pool had no key, the client left, it timed out first). Once.
    mutating func exchangeEnding() -> QuotaCall? {
        switch quota {
        case .pending:
            quota = .abandoned
            return nil
        case .admitted(let ticket):
            quota = .closed
            return sends > 0 ? .settle(ticket) : .release(ticket)
        case .none, .abandoned, .refusedBeforePick, .closed:
            return nil
        }
    }

    /// The request was answered before any key was asked for (a CORS preflight, a body that could not be converted):
    /// the exchange ends once that answer is written.
    mutating func answeredLocally() -> Step {
        switch state {
        case .head, .preparing:
            state = .finished
            return Step(.finish(completed: true))
        default:
            preconditionFailure("answered locally after a key was asked for")
        }
    }

    private mutating func refuse(_ refusal: Refusal) -> Step {
        var then = Then.finish
        if isReceivingRequest {
            // The body was not (fully) read. A small rest is read and dropped so the connection stays usable; a large or
            // unknown one is not worth reading: the connection closes after the answer.
            let read: Int
            if case .receiving(let body, _) = state { read = body.readableBytes } else { read = 0 }
            let declared = requestHeaders.first(name: "content-length").flatMap(Int.init)
            if let declared, declared - read <= Self.bodyWorthDraining, !refusal.isTooLarge {
                then = .awaitRequestEnd
            } else {
                closesConnection = true
            }
        }
        state = then == .finish ? .finished : .refusedDraining
        return Step(.write(.refusal(refusal), then: then))
    }

    // MARK: Keys

    mutating func keyOffered(_ acquisition: KeyAcquisition, isKnown: Bool, storeReachable: Bool, now: NIODeadline) -> Step {
        switch state {
        case .admitting(true, nil):
            // The pool answered before the quota: held until the quota says whether the request may use it.
            state = .admitting(keyAsked: true, heldOffer: HeldOffer(acquisition: acquisition, isKnown: isKnown, storeReachable: storeReachable))
            return Step(.none)
        case .awaitingKey:
            return follow(keys!.handle(.keyOffered(acquisition, isKnown: isKnown, storeReachable: storeReachable, now: now)), now: now)
        case .finished:
            var step = Step(.none)
            if case .refusedBeforePick = quota {
                // The client key's quota refused the request this key was picked for.
                quota = .closed
                if case .key(let id) = acquisition { step.unpick = id }
            }
            return step
        default:
            preconditionFailure("a key offered while not waiting for one")
        }
    }

    /// A paced wait ended.
    mutating func waited(now: NIODeadline) -> Step {
        switch state {
        case .awaitingKey: return follow(keys!.handle(.waited), now: now)
        case .finished: return Step(.none)
        default: preconditionFailure("a wait ended while not waiting for a key")
        }
    }

    /// The catch-up with the store ended (or its time ran out; the second of the two is ignored).
    mutating func caughtUp(stillUnknown: (Set<Int64>) -> Set<Int64>, now: NIODeadline) -> Step {
        guard case .catchingUp = state else { return Step(.none) }
        state = .awaitingKey
        return follow(keys!.handle(.caughtUp(stillUnknown: stillUnknown(keys!.unknownKeys))), now: now)
    }

    /// The pool was found rested as a whole while reporting: a final 429 says so.
    mutating func poolRested(_ cooling: PoolCooling) {
        keys?.poolRested(cooling)
    }

    /// What the key machine decided, performed in this machine's terms.
    private mutating func follow(_ step: ProxyStateMachine.Step, now: NIODeadline) -> Step {
        var result = Step(.none)
        result.reports = step.settled
        if let outcome = step.report, let key = keys?.currentKey {
            result.judged = Judged(key: key, outcome: outcome, answer: step.answer)
            if outcome != .success { reportedFailures = true }
        }
        switch step.action {
        case .acquireKey(let excluded):
            state = .awaitingKey
            result.action = .acquireKey(excluding: excluded)
        case .send(let key):
            result.action = send(key: key, connection: .reused, now: now).action
        case .wait(let time):
            state = .awaitingKey
            result.action = .wait(time)
        case .catchUp:
            state = .catchingUp
            result.action = .catchUp(limit: min(.seconds(2), limits.timeout))
        case .answer(let final):
            result.reports += keys?.owedReports ?? []
            if result.reports.contains(where: { $0.outcome != .success }) { reportedFailures = true }
            result.action = deliver(clientAnswer(final))
            return result
        }
        if result.reports.contains(where: { $0.outcome != .success }) { reportedFailures = true }
        return result
    }

    /// The key machine's final answer as the client gets it: a converted 2xx cut at its limit is a 502.
    private func clientAnswer(_ final: ProxyStateMachine.FinalAnswer) -> Answer {
        switch final {
        case .upstream(let status, let headers, let body):
            if conversion != nil, (200..<300).contains(status), lastAnswerCut {
                return .failure(ProxyFailure(
                    status: 502, kind: .upstreamUnavailable,
                    message: "The upstream's answer is larger than \(limits.convertedAnswerLimit >> 20) MiB, the most a converted answer is read whole; ask for a stream instead."
                ))
            }
            return .upstream(status: status, headers: headers, body: body, limit: answerLimit(status: status))
        case .error(let failure):
            return .failure(failure)
        }
    }

    /// The final answer: written now, or once the failures this request reported completed (a rest it set must be
    /// seen by the next request). Successes are not waited for.
    private mutating func deliver(_ answer: Answer) -> Action {
        guard reportedFailures else {
            state = .finished
            return .write(answer, then: .finish)
        }
        state = .awaitingReports(answer)
        return .awaitReports
    }

    /// The reports the answer waited for completed (or there were none left to wait for).
    mutating func reportsCompleted() -> Step {
        switch state {
        case .awaitingReports(let answer):
            state = .finished
            return Step(.write(answer, then: .finish))
        case .finished:
            return Step(.none)
        default:
            preconditionFailure("reports completed while no answer waited for them")
        }
    }

    /// The most of a read-whole answer the client gets: error bodies are cut at 1 MiB, converted answers at 32 MiB.
    private func answerLimit(status: Int) -> Int {
        conversion != nil && (200..<300).contains(status) ? limits.convertedAnswerLimit : limits.errorBodyLimit
    }

    // MARK: Upstream

    private mutating func send(key: Int64, connection: Connection, now: NIODeadline) -> Step {
        state = .sending(key: key, connection: connection)
        sends += 1
        sentAt = now
        lastUpstreamActivity = now
        return Step(.send(keyID: key, fresh: connection != .reused, timer: attemptDeadline))
    }

    /// The executor had no pooled connection: a new one is made (a failure on it is not a stale keep-alive). Returns
    /// the send it is for (see `connected`).
    mutating func connectingAnew() -> Int {
        switch state {
        case .sending(let key, .reused): state = .sending(key: key, connection: .new)
        case .sending: break
        default: preconditionFailure("a connection made while nothing is sent")
        }
        return sends
    }

    /// A new connection is up, or could not be made: true when it is still wanted (the same send is waiting; the read
    /// timeout then runs from here), false when that attempt is over (the connection is closed unused).
    mutating func connected(attempt: Int, now: NIODeadline) -> Bool {
        guard case .sending = state, attempt == sends else { return false }
        lastUpstreamActivity = now
        return true
    }

    /// When the current request went out, while its answer's head is awaited.
    var awaitingAnswerSince: NIODeadline? {
        if case .sending = state { return sentAt }
        return nil
    }

    var isStreaming: Bool {
        if case .streaming = state { return true }
        return false
    }

    /// An answer's head. `plan`: what its body needs (decoded? scrubbed? unreadable?); `headers`: as the client sees them.
    mutating func answerHead(status: Int, headers: HTTPHeaders, plan: AnswerBodyPlan, now: NIODeadline) -> Step {
        switch state {
        case .sending:
            break
        case .readingWhole, .readingErrorBody, .streaming, .finished:
            // A second head on the wire (or one after the exchange ended) is ignored, as it always was.
            return Step(.none)
        case .head, .receiving, .refusedDraining, .preparing, .admitting, .awaitingKey, .catchingUp, .awaitingReports, .modifying:
            preconditionFailure("an answer head while nothing was sent")
        }
        lastUpstreamActivity = now
        record.upstreamStatus = status
        record.upstreamWait += Int64((now - sentAt).nanoseconds)
        if case .unreadable(let encoding) = plan.coding {
            return Step(upstream: .close, deliver(.unreadable(encoding: encoding)))
        }
        switch delivery(status: status, headers: headers) {
        case .stream:
            state = .streaming(heldHead: nil)
            record.status = status
            record.answeredAt = now
            var step = Step(.startStream(status: status, headers: headers))
            step.judged = keys?.currentKey.map { Judged(key: $0, outcome: .success, answer: nil) }
            return step
        case .whole(let declared):
            // Its whole declared length at once: grown part by part, a 200 KB answer was copied and re-mapped on every
            // doubling (+200 µs of CPU per answer, measured).
            state = .readingWhole(status: status, headers: headers, body: Self.allocator.buffer(capacity: declared), declared: declared)
        case .readErrorBody:
            lastAnswerCut = false
            state = .readingErrorBody(status: status, headers: headers, body: ByteBuffer())
        }
        return Step(.none)
    }

    private func delivery(status: Int, headers: HTTPHeaders) -> ProxyStateMachine.Delivery {
        switch conversion {
        case .streams where (200..<300).contains(status): return .stream
        case .streams, .whole: return .readErrorBody
        case nil: return keys!.delivery(status: status, headers: headers, method: method)
        }
    }

    /// The stream's head, once: it goes out with the first body bytes (an answer that breaks right after its head is a
    /// 502, not a cut connection).
    mutating func holdStreamHead(_ head: HTTPResponseHead) {
        guard case .streaming(nil) = state else { preconditionFailure("a stream head held twice") }
        state = .streaming(heldHead: head)
    }

    /// The held head, if it has not gone out yet (it goes now).
    mutating func takeHeldHead() -> HTTPResponseHead? {
        guard case .streaming(let held?) = state else { return nil }
        state = .streaming(heldHead: nil)
        return held
    }

    /// A part of the answer's body. `decode` inflates an error body's part (only while there is room); `margin` is
    /// how far past the cut an error body is read (the key's longest form less one), so a key across it is scrubbed.
    mutating func answerPart(_ part: ByteBuffer, now: NIODeadline, margin: Int, decode: (ByteBuffer) -> ByteBuffer) -> Step {
        lastUpstreamActivity = now
        switch state {
        case .streaming:
            return Step(.relay(part))
        case .readingWhole(let status, let headers, var collected, let declared):
            state = .modifying
            if collected.readableBytes + part.readableBytes <= declared {
                var part = part
                collected.writeBuffer(&part)
            }
            state = .readingWhole(status: status, headers: headers, body: collected, declared: declared)
            return Step(.none)
        case .readingErrorBody(let status, let headers, var collected):
            state = .modifying
            let limit = answerLimit(status: status)
            let room = limit + max(margin, 0) - collected.readableBytes
            if room > 0 {
                var chunk = decode(part)
                if collected.readableBytes + chunk.readableBytes > limit { lastAnswerCut = true }
                if let slice = chunk.readSlice(length: min(room, chunk.readableBytes)) { collected.writeImmutableBuffer(slice) }
            } else if part.readableBytes > 0 {
                lastAnswerCut = true
            }
            state = .readingErrorBody(status: status, headers: headers, body: collected)
            return Step(.none)
        case .finished:
            return Step(.none)
        default:
            preconditionFailure("an answer part before its head")
        }
    }

    /// The answer's end. `intact`: a decoded body ended cleanly (a stream whose compression broke is abandoned).
    mutating func answerEnded(now: NIODeadline, intact: Bool) -> Step {
        switch state {
        case .streaming:
            guard intact else { return streamBroke(because: "the upstream's compressed answer could not be decoded") }
            state = .finished
            return Step(upstream: .release, .endStream)
        case .readingWhole(let status, let headers, let collected, let declared):
            guard collected.readableBytes == declared else {
                var step = judge(.answerBrokeOff(received: collected.readableBytes, declared: declared, timedOut: false, now: now), now: now)
                step.upstream = .release
                return step
            }
            state = .finished
            record.status = status
            record.answeredAt = now
            var step = Step(upstream: .release, deliver(.whole(status: status, headers: headers, body: collected)))
            step.judged = keys?.currentKey.map { Judged(key: $0, outcome: .success, answer: nil) }
            return step
        case .readingErrorBody(let status, let headers, let collected):
            var step = judge(.answerRead(status: status, headers: headers, body: collected, now: now), now: now)
            step.upstream = .release
            return step
        case .finished:
            return Step(.none)
        default:
            preconditionFailure("an answer's end before its head")
        }
    }

    /// The connection failed (closed, broke, TLS) or could not be made.
    mutating func upstreamFailed(_ failure: TransportFailure, now: NIODeadline) -> Step {
        switch state {
        case .sending(let key, let connection):
            if connection == .reused, !failure.isTLS {
                // A kept-alive connection the upstream had closed: once more on a fresh one, not held against the key.
                var step = send(key: key, connection: .newAfterStale, now: now)
                step.upstream = .close
                return step
            }
            return judge(.transportFailed(failure, now: now), now: now)
        case .readingWhole(_, _, let collected, let declared):
            return judge(.answerBrokeOff(received: collected.readableBytes, declared: declared, timedOut: false, now: now), now: now)
        case .readingErrorBody(let status, let headers, let collected):
            return judge(.answerRead(status: status, headers: headers, body: collected, now: now), now: now)
        case .streaming:
            return streamBroke(because: "the upstream's answer broke off right after its head (\(failure.description))")
        case .finished, .awaitingKey, .catchingUp, .awaitingReports:
            // A connection that failed after its exchange was over.
            return Step(.none)
        case .head, .receiving, .refusedDraining, .preparing, .admitting, .modifying:
            preconditionFailure("an upstream failure before anything was sent")
        }
    }

    /// A streamed answer that cannot go on (it broke, or its compression did). While only its head came (still held),
    /// the client gets a 502 in its format instead of a cut; once bytes have reached it, its connection closes so it
    /// sees the cut.
    mutating func streamBroke(because reason: String) -> Step {
        guard case .streaming(let held) = state else {
            if case .finished = state { return Step(.none) }
            preconditionFailure("a stream broke while not streaming")
        }
        if held != nil {
            return Step(upstream: .close, deliver(.failure(ProxyFailure(status: 502, kind: .upstreamUnavailable, message: reason))))
        }
        state = .finished
        closesConnection = true
        return Step(upstream: .close, .closeClient)
    }

    private mutating func judge(_ event: ProxyStateMachine.Event, now: NIODeadline) -> Step {
        var step = follow(keys!.handle(event), now: now)
        if step.upstream == .keep { step.upstream = .close }
        return step
    }

    // MARK: Read timeout

    /// When the current attempt times out: `PROXY_TIMEOUT` after the upstream's last sign of life and, until the answer
    /// starts going to the client, never past the request's overall deadline (`PROXY_TOTAL_TIMEOUT`), so all the
    /// attempts of one request fit in it.
    private var attemptDeadline: NIODeadline {
        let silence = lastUpstreamActivity + limits.timeout
        if case .streaming = state { return silence }
        guard let overall = keys?.deadline else { return silence }
        return min(silence, overall)
    }

    /// The read timer fired: early (activity since) it is armed again; otherwise the attempt timed out.
    mutating func timerFired(now: NIODeadline) -> Step {
        switch state {
        case .sending, .readingWhole, .readingErrorBody, .streaming:
            if now < attemptDeadline { return Step(.armTimer(attemptDeadline)) }
        default:
            return Step(.none)
        }
        switch state {
        case .sending:
            return judge(.transportFailed(.noAnswer(requestFullySent: true, timedOut: true), now: now), now: now)
        case .readingWhole(_, _, let collected, let declared):
            return judge(.answerBrokeOff(received: collected.readableBytes, declared: declared, timedOut: true, now: now), now: now)
        case .readingErrorBody(let status, let headers, let collected):
            return judge(.answerRead(status: status, headers: headers, body: collected, now: now), now: now)
        default:
            state = .finished
            closesConnection = true
            return Step(upstream: .close, .closeClient)
        }
    }

    // MARK: The client

    /// The client went away: the upstream exchange stops, nothing more is written.
    mutating func clientClosed() -> Step {
        if case .finished = state { return Step(.none) }
        state = .finished
        return Step(upstream: .close, .finish(completed: false))
    }

    /// The client took longer than `CLIENT_REQUEST_TIMEOUT` to send the request: a 408 when nothing was answered yet.
    mutating func requestTimedOut(message: String) -> Step {
        closesConnection = true
        switch state {
        case .finished:
            return Step(.none)
        case .refusedDraining:
            state = .finished
            return Step(.finish(completed: true))
        default:
            state = .finished
            return Step(upstream: .close, .write(.requestTimeout(message: message), then: .finish))
        }
    }

    /// The executor wrote a whole answer with this status.
    mutating func answered(status: Int, now: NIODeadline) {
        record.status = status
        record.answeredAt = record.answeredAt ?? now
    }

    /// Whether a converted answer's tokens are still to be counted (true once).
    mutating func countsUsage() -> Bool {
        guard !record.usageCounted else { return false }
        record.usageCounted = true
        return true
    }
}
