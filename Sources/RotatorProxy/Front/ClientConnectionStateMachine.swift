import NIOCore
import NIOHTTP1

/// Every decision of one client connection, apart from the proxied requests themselves: which request is being
/// served (a proxied one, one passed through to Hummingbird, the rest of a refused one being dropped), the queue of
/// requests pipelined behind it and the bound that holds the socket's reads, the idle, read and whole-request
/// timeouts, and graceful quiesce. `ProxyFrontHandler` executes what it returns; the clock is the event loop's,
/// passed in with every event, so tests drive time.
///
/// Reads are held only while the queue is over its bound (`queueBound`), never per request: pausing and resuming
/// reads around every request costs two `epoll_ctl` calls each.
struct ClientConnectionStateMachine {
    /// The request the connection is serving.
    enum Serving: Equatable {
        case idle
        /// Hummingbird serves it; it is over when both its request and its answer have ended.
        case passThrough(requestOpen: Bool, responseOpen: Bool, answered: Bool)
        /// A `ProxyExchange` serves it; `requestOpen` until the request's end was handed to it.
        case proxied(requestOpen: Bool)
        /// A refused request whose body is still arriving: dropped until its end, then the connection closes.
        case discarding
        case closed
    }

    /// What to do with one request part.
    enum PartAction: Equatable {
        /// Nothing now: it waits in the queue, or is dropped.
        case none
        /// A proxy route's head: start an exchange for it.
        case startExchange(HTTPRequestHead, ProxyRoute)
        /// Hand the part to Hummingbird, then do `then` (its request and answer may both have ended).
        case forward(HTTPServerRequestPart, then: AfterRequest)
        case exchangeBody(ByteBuffer)
        case exchangeEnd
        case close
    }

    /// What follows the end of a request and its answer (or an answer's part).
    enum AfterRequest: Equatable {
        case nothing
        /// Serve what waited: call `nextQueued` until it says `.drained`.
        case drain
        case close
    }

    /// One step of draining the queue.
    enum DrainStep: Equatable {
        case route(PartAction)
        /// The queue is drained as far as it can be now. Parts that waited were passed on outside a socket read, so a
        /// read-complete must follow (Hummingbird's async channel hands what it buffered to its reader only then); and
        /// the read held while the queue was over its bound is issued when `read` says so.
        case drained(read: Bool)
    }

    enum TimerAction: Equatable {
        case arm(NIODeadline)
        case close
        /// A client that stopped sending mid-request: the running exchange is abandoned and the connection closes.
        case cutOff
        /// The request's head and body took longer than the request timeout: the connection closes after the exchange
        /// is told (`.exchange`) or a 408 is written (`.answer`) or nothing more can be said (`.none`).
        case requestTimedOut(RequestTimeoutAnswer)
    }

    enum RequestTimeoutAnswer: Equatable {
        case exchange
        case answer
        case none
    }

    enum ErrorAction: Equatable {
        /// Hummingbird's handlers judge it.
        case forward
        /// A malformed request behind a proxied one: nothing more can be read in order. The exchange (if one runs) is
        /// abandoned; the connection closes.
        case close(abandonExchange: Bool)
        /// The connection is closing already: nothing more to judge.
        case ignore
    }

    /// Past it (requests waiting, or their body bytes) the client's socket is not read until the answers before have
    /// caught up: a client that pipelines behind a slow answer costs at most this (plus one read) of memory.
    static let queueBound = (requests: 4, bodyBytes: 64 * 1024)

    let timeouts: ClientTimeouts
    private(set) var serving = Serving.idle
    private var queue = PipelineQueue()
    /// A `read()` held back while the queue is over its bound.
    private var readHeld = false
    private var isDraining = false
    private var isQuiescing = false
    /// When a byte last arrived or an answer last ended.
    private(set) var lastActivity: NIODeadline
    /// When the request now arriving began: its first bytes (an unfinished head) or its head; nil between requests.
    private var requestStartedAt: NIODeadline?
    /// A part was decoded in the current socket read: bytes without one are an unfinished head.
    private var decodedInRead = false

    init(timeouts: ClientTimeouts, now: NIODeadline = .uptimeNanoseconds(0)) {
        self.timeouts = timeouts
        self.lastActivity = now
    }

    var queuedRequests: Int { queue.requests }

    /// The handler joined the connection: idle time runs from now.
    mutating func added(now: NIODeadline) {
        lastActivity = now
    }

    // MARK: Inbound

    mutating func partRead(_ part: HTTPServerRequestPart, now: NIODeadline) -> PartAction {
        lastActivity = now
        decodedInRead = true
        if case .closed = serving { return .none }
        guard queue.isEmpty else {
            queue.append(part)
            return .none
        }
        return route(part, now: now)
    }

    /// The clock is read only when needed: a read-complete ends every request.
    mutating func readComplete(now: @autoclosure () -> NIODeadline) {
        if !decodedInRead, requestStartedAt == nil, serving == .idle, queue.isEmpty {
            // Bytes came that make no part yet: the next request's head is arriving, and its time runs from now.
            requestStartedAt = now()
        }
        decodedInRead = false
    }

    private mutating func route(_ part: HTTPServerRequestPart, now: NIODeadline) -> PartAction {
        if case .end = part { requestStartedAt = nil }
        switch serving {
        case .idle:
            guard case .head(let head) = part else { return .none }
            requestStartedAt = requestStartedAt ?? now
            if let route = ProxyRoute(uri: head.uri) {
                serving = .proxied(requestOpen: true)
                return .startExchange(head, route)
            }
            serving = .passThrough(requestOpen: true, responseOpen: true, answered: false)
            return .forward(part, then: .nothing)
        case .passThrough(let requestOpen, let responseOpen, let answered):
            guard requestOpen else {
                queue.append(part)
                return .none
            }
            guard case .end = part else { return .forward(part, then: .nothing) }
            if responseOpen {
                serving = .passThrough(requestOpen: false, responseOpen: true, answered: answered)
                return .forward(part, then: .nothing)
            }
            return .forward(part, then: requestDone(now: now))
        case .proxied(let requestOpen):
            guard requestOpen else {
                queue.append(part)
                return .none
            }
            switch part {
            case .head: return .none
            case .body(let chunk): return .exchangeBody(chunk)
            case .end:
                serving = .proxied(requestOpen: false)
                return .exchangeEnd
            }
        case .discarding:
            guard case .end = part else { return .none }
            return close() ? .close : .none
        case .closed:
            return .none
        }
    }

    /// Graceful shutdown asks the connection to close: whether Hummingbird's handlers should hear of it too.
    mutating func quiesce() -> Bool {
        isQuiescing = true
        switch serving {
        case .idle, .passThrough:
            // Hummingbird's connection handler closes the connection now (idle) or after its answer.
            return true
        case .proxied, .discarding, .closed:
            // A proxied answer (a stream, maybe) is still going out: the connection closes once it has ended.
            return false
        }
    }

    mutating func errorCaught() -> ErrorAction {
        switch serving {
        case .proxied:
            _ = close()
            return .close(abandonExchange: true)
        case .discarding:
            _ = close()
            return .close(abandonExchange: false)
        case .idle, .passThrough:
            return .forward
        case .closed:
            return .ignore
        }
    }

    mutating func connectionInactive() {
        serving = .closed
        queue.removeAll()
    }

    // MARK: Answers

    /// A part of Hummingbird's answer is being written.
    mutating func answerPartWritten(_ part: HTTPServerResponsePart, now: @autoclosure () -> NIODeadline) -> AfterRequest {
        guard case .passThrough(let requestOpen, true, let answered) = serving else { return .nothing }
        switch part {
        case .head(let head):
            if head.status.code >= 200 { serving = .passThrough(requestOpen: requestOpen, responseOpen: true, answered: true) }
            return .nothing
        case .body:
            return .nothing
        case .end:
            guard requestOpen else { return requestDone(now: now()) }
            serving = .passThrough(requestOpen: true, responseOpen: false, answered: answered)
            return .nothing
        }
    }

    /// The proxied request's exchange has written its answer (or was abandoned).
    mutating func exchangeFinished(closeConnection: Bool, now: NIODeadline) -> AfterRequest {
        let requestOpen: Bool
        switch serving {
        case .proxied(let open): requestOpen = open
        // Closed first (a read timeout, an error, the socket gone), then the exchange was abandoned.
        case .closed: return .nothing
        case .idle, .passThrough, .discarding: preconditionFailure("an exchange finished while the connection serves \(serving)")
        }
        guard closeConnection || isQuiescing else { return requestDone(now: now) }
        if requestOpen {
            serving = .discarding
            return .nothing
        }
        return close() ? .close : .nothing
    }

    /// The request and its answer are over: serve what waited behind it.
    private mutating func requestDone(now: NIODeadline) -> AfterRequest {
        serving = .idle
        lastActivity = now
        if isQuiescing, queue.isEmpty { return close() ? .close : .nothing }
        guard !isDraining, !queue.isEmpty else { return .nothing }
        isDraining = true
        return .drain
    }

    /// The next step of a drain that `.drain` began: parts are routed while a request can take them (none is running,
    /// or the running one is still arriving).
    mutating func nextQueued(now: NIODeadline) -> DrainStep {
        precondition(isDraining, "nextQueued without a drain")
        if isTakingParts, let part = queue.popFirst() {
            return .route(route(part, now: now))
        }
        isDraining = false
        guard readHeld, serving != .closed, !queue.isFull else { return .drained(read: false) }
        readHeld = false
        return .drained(read: true)
    }

    private var isTakingParts: Bool {
        switch serving {
        case .idle, .discarding: true
        case .passThrough(let requestOpen, _, _), .proxied(let requestOpen): requestOpen
        case .closed: false
        }
    }

    // MARK: Reads

    /// A read of the socket was asked for: whether it goes out now (or is held until the queue has drained).
    mutating func readRequested() -> Bool {
        guard queue.isFull else { return true }
        readHeld = true
        return false
    }

    // MARK: Timeouts

    /// When the connection's one timer first fires; it is re-armed by `timerFired`, so a request costs a clock read,
    /// not a reschedule.
    var firstDeadline: NIODeadline { lastActivity + min(timeouts.idle, lookAgain) }

    /// The longest the timer sleeps while a request may start unseen: a request that starts meanwhile is bounded by
    /// both the read and the request timeout.
    private var lookAgain: TimeAmount { min(timeouts.read, timeouts.request) }

    mutating func timerFired(now: NIODeadline) -> TimerAction? {
        if case .closed = serving { return nil }
        let requestDue = requestStartedAt.map { $0 + timeouts.request }
        if let requestDue, now >= requestDue {
            let answer: RequestTimeoutAnswer =
                switch serving {
                case .proxied: .exchange
                case .passThrough(_, _, let answered): answered ? .none : .answer
                case .idle: .answer
                case .discarding, .closed: .none
                }
            _ = close()
            return .requestTimedOut(answer)
        }
        if case .idle = serving {
            guard now - lastActivity < timeouts.idle else { return close() ? .close : nil }
            return .arm(min(lastActivity + timeouts.idle, now + lookAgain, requestDue ?? .distantFuture))
        }
        // An answer is going out: the upstream's own timeout bounds it; look again later.
        guard isTakingParts else { return .arm(now + lookAgain) }
        guard now - lastActivity < timeouts.read else {
            _ = close()
            return .cutOff
        }
        return .arm(min(lastActivity + timeouts.read, requestDue ?? .distantFuture))
    }

    /// Whether this closes the connection (false when it was closed already).
    private mutating func close() -> Bool {
        if case .closed = serving { return false }
        serving = .closed
        queue.removeAll()
        return true
    }
}
