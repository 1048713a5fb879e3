import KeyCoordination
import NIOCore
import NIOHTTP1

/// The decisions of one proxied request over its pool, as a value type: the relay feeds it what happened (a key
/// offered, an upstream answer, a transport failure, a wait that ended) and performs the action it returns (ask for a
/// key, send, wait, catch up with the store, answer). It does no I/O, so every rule is tested without sockets.
///
/// Rules: rotating past rate-limited or rejected keys costs no retry budget but stops at `PROXY_TIMEOUT`; connect
/// errors, timeouts, broken answers and 5xx spend the budget (`MAX_RETRIES`); nothing is retried once a byte has
/// gone to the client (the relay stops asking once it streams).
public struct ProxyStateMachine: Sendable {
    public struct Limits: Sendable {
        public var maxRetries: Int
        /// How long the request may keep rotating past busy keys (`PROXY_TIMEOUT`).
        public var timeout: TimeAmount
        /// The longest a request waits for a paced-out key before answering 429.
        public var pacingMaxWait: Double
        /// Cooldown after a 429 without a reset signal (`COOLDOWN_SECONDS`).
        public var defaultCooldown: Double
        /// Answers up to this declared size are read whole and sent in one write; larger ones stream.
        public var wholeAnswerLimit: Int = 256 * 1024
        /// Error bodies are read whole (reset hints, or to pass on); longer ones are cut here.
        public var errorBodyLimit: Int = 1 << 20

        public init(maxRetries: Int, timeout: TimeAmount, pacingMaxWait: Double, defaultCooldown: Double) {
            self.maxRetries = maxRetries
            self.timeout = timeout
            self.pacingMaxWait = pacingMaxWait
            self.defaultCooldown = defaultCooldown
        }
    }

    /// Why an upstream exchange failed before its answer could be judged.
    public enum TransportFailure: Sendable, Equatable {
        case connectFailed
        /// No answer (or no further byte of it) within the read timeout.
        case timedOut
        /// The connection closed before a complete answer head.
        case closed
        /// The upstream's certificate or host name could not be verified: a setup problem no other key fixes.
        case tls(String)
    }

    /// What the relay does next.
    public enum Action: Sendable, Equatable {
        case acquireKey(excluding: Set<Int64>)
        case send(keyID: Int64)
        /// Wait this long (a paced-out key frees), then report `.waited`.
        case wait(TimeAmount)
        /// Re-read this config from the store once (the cache is behind the coordinator), then report `.caughtUp`.
        case catchUp
        case answer(FinalAnswer)
    }

    /// How the relay reads a 2xx answer.
    public enum Delivery: Sendable, Equatable {
        /// Relay head and body part by part as they arrive (SSE, chunked, large, HEAD).
        case stream
        /// Read the declared length whole, then send head, body and end in one write; short is a broken answer.
        case whole(contentLength: Int)
        /// Not for the client: read the (error) body, then report `.answerRead`.
        case readErrorBody
    }

    public enum FinalAnswer: Sendable, Equatable {
        /// Retries are spent: the upstream's own answer goes to the client.
        case upstream(status: Int, headers: HTTPHeaders, body: ByteBuffer)
        /// The proxy's own error, in the client format's shape.
        case error(status: HTTPResponseStatus, kind: ClientErrorShape.Kind, message: String, retryAfter: Int?)
    }

    public enum Event: Sendable {
        case keyOffered(KeyAcquisition, isKnown: Bool, now: NIODeadline)
        /// The head of an answer: decides how it is read (see `delivery(status:headers:method:)`).
        case answerRead(status: Int, headers: HTTPHeaders, body: ByteBuffer, now: NIODeadline)
        case transportFailed(TransportFailure, now: NIODeadline)
        /// A 2xx answer of declared length ended (or stalled) early; nothing reached the client.
        case answerBrokeOff(received: Int, declared: Int, timedOut: Bool, now: NIODeadline)
        case waited
        /// After `.catchUp`: the keys offered that the fresher cache still does not know.
        case caughtUp(stillUnknown: Set<Int64>)
    }

    /// What to tell the coordinator about the key that just served (nil: nothing).
    public struct Step: Sendable, Equatable {
        public var report: KeyOutcome?
        public var action: Action
    }

    private enum Failure: Sendable {
        case response(status: Int, headers: HTTPHeaders, body: ByteBuffer, verdict: UpstreamVerdict)
        case transport(TransportFailure)
        case brokenAnswer(received: Int, declared: Int, timedOut: Bool)
    }

    public let limits: Limits
    public let slug: String
    private let deadline: NIODeadline
    /// Keys the coordinator offered that this node's cache does not hold (another node synced a newer pool).
    private var unknown: Set<Int64> = []
    /// The keys offered that this node's cache did not hold (a catch-up looks for them).
    public var unknownKeys: Set<Int64> { unknown }
    /// Keys that failed this request, plus the unknown ones: skipped while any other key can serve it.
    private var excluded: Set<Int64> = []
    private var caughtUpOnce = false
    private var retries = 0
    private var lastFailure: Failure?
    /// The key the current attempt uses.
    public private(set) var currentKey: Int64?
    /// Upstream calls made so far (the first is not a retry).
    public private(set) var attempts = 0
    /// Whether the store answered its last check; a catch-up is not tried while it is away.
    public var storeReachable = true
    /// How many keys the pool had when the request started (a lone rejected key is a config problem).
    private let poolSize: Int

    public init(slug: String, poolSize: Int, limits: Limits, startedAt now: NIODeadline) {
        self.slug = slug
        self.poolSize = poolSize
        self.limits = limits
        self.deadline = now + limits.timeout
    }

    /// The first action of every request.
    public func start() -> Action {
        .acquireKey(excluding: excluded)
    }

    /// How a 2xx-or-other answer with this head is read.
    public func delivery(status: Int, headers: HTTPHeaders, method: HTTPMethod) -> Delivery {
        guard UpstreamVerdict(status: status) == .deliver else { return .readErrorBody }
        guard let declared = headers.first(name: "content-length").flatMap(Int.init), declared <= limits.wholeAnswerLimit,
            method != .HEAD, status != 204, status != 304,
            !headers["content-type"].contains(where: { $0.lowercased().hasPrefix("text/event-stream") })
        else { return .stream }
        return .whole(contentLength: declared)
    }

    public mutating func handle(_ event: Event) -> Step {
        switch event {
        case .keyOffered(let acquisition, let isKnown, let now):
            return Step(report: nil, action: offered(acquisition, isKnown: isKnown, now: now))
        case .answerRead(let status, let headers, let body, let now):
            return judged(status: status, headers: headers, body: body, now: now)
        case .transportFailed(let failure, _):
            lastFailure = .transport(failure)
            let report = KeyOutcome.upstreamFailure(reason: Self.describe(failure))
            if case .tls = failure { return Step(report: report, action: .answer(finalAnswer(soonestFree: nil))) }
            return Step(report: report, action: spendRetry())
        case .answerBrokeOff(let received, let declared, let timedOut, _):
            lastFailure = .brokenAnswer(received: received, declared: declared, timedOut: timedOut)
            return Step(report: .upstreamFailure(reason: "answer broke off after \(received) of \(declared) bytes"), action: spendRetry())
        case .waited:
            excluded = unknown
            return Step(report: nil, action: .acquireKey(excluding: excluded))
        case .caughtUp(let stillUnknown):
            unknown = stillUnknown
            excluded = unknown
            return Step(report: nil, action: .acquireKey(excluding: excluded))
        }
    }

    /// A 2xx answer went (or is going) to the client: the key served.
    public mutating func delivered() -> KeyOutcome {
        .success
    }

    private mutating func offered(_ acquisition: KeyAcquisition, isKnown: Bool, now: NIODeadline) -> Action {
        switch acquisition {
        case .key(let id):
            guard isKnown else {
                unknown.insert(id)
                excluded.insert(id)
                return .acquireKey(excluding: excluded)
            }
            attempts += 1
            currentKey = id
            return .send(keyID: id)
        case .empty:
            return .answer(finalAnswer(soonestFree: nil))
        case .unavailable(let wait):
            if wait <= 0, !excluded.isEmpty {
                if excluded == unknown {
                    // Only keys this node does not know yet are free: its cache is behind the coordinator. Catch up once,
                    // then answer if that did not help.
                    guard !caughtUpOnce, storeReachable else {
                        return .answer(.error(status: .serviceUnavailable, kind: .upstreamUnavailable,
                                              message: "the keys of '\(slug)' are being updated on this node; retry shortly", retryAfter: 1))
                    }
                    caughtUpOnce = true
                    return .catchUp
                }
                // Only keys that failed this request (with 5xx) are free: let them serve the retry.
                excluded = unknown
                return .acquireKey(excluding: excluded)
            }
            let remaining = deadline - now
            let waitTime = TimeAmount.milliseconds(Int64((wait * 1000).rounded(.up)) + 1)
            if wait <= limits.pacingMaxWait, waitTime < remaining {
                return .wait(waitTime)
            }
            return .answer(finalAnswer(soonestFree: wait))
        }
    }

    private mutating func judged(status: Int, headers: HTTPHeaders, body: ByteBuffer, now: NIODeadline) -> Step {
        let verdict = UpstreamVerdict(status: status)
        lastFailure = .response(status: status, headers: headers, body: body, verdict: verdict)
        if let key = currentKey { excluded.insert(key) }
        let report: KeyOutcome
        switch verdict {
        case .rateLimited:
            let cooldown = RateLimitReset.seconds(headers: headers, body: body) ?? limits.defaultCooldown
            report = .rateLimited(cooldown: cooldown)
        case .keyRejected:
            report = .rejected(reason: "upstream answered \(status)")
        case .retryableFailure:
            report = .upstreamFailure(reason: "upstream answered \(status)")
            retries += 1
            if retries > limits.maxRetries { return Step(report: report, action: .answer(finalAnswer(soonestFree: nil))) }
            return Step(report: report, action: .acquireKey(excluding: excluded))
        case .deliver:
            // Not reached: the relay delivers 2xx itself. Treat a stray call as a delivered answer.
            return Step(report: .success, action: .answer(.upstream(status: status, headers: headers, body: body)))
        }
        // Rotating past rate-limited or rejected keys costs no retry budget, but it stops at PROXY_TIMEOUT.
        if now >= deadline { return Step(report: report, action: .answer(finalAnswer(soonestFree: nil))) }
        return Step(report: report, action: .acquireKey(excluding: excluded))
    }

    private mutating func spendRetry() -> Action {
        retries += 1
        if retries > limits.maxRetries { return .answer(finalAnswer(soonestFree: nil)) }
        if let key = currentKey { excluded.insert(key) }
        return .acquireKey(excluding: excluded)
    }

    /// No key can serve (any more): say why.
    private func finalAnswer(soonestFree: Double?) -> FinalAnswer {
        let timeoutSeconds = Int(limits.timeout.nanoseconds / 1_000_000_000)
        switch lastFailure {
        case .response(let status, let headers, let body, .retryableFailure):
            return .upstream(status: status, headers: headers, body: body)
        case .response(let status, _, _, .keyRejected) where soonestFree == nil || poolSize <= 1:
            return .error(status: .serviceUnavailable, kind: .upstreamUnavailable,
                          message: "the upstream rejected the keys of '\(slug)' (last answer \(status)); an admin must check them", retryAfter: nil)
        case .transport(.timedOut):
            return .error(status: .gatewayTimeout, kind: .timeout, message: "the upstream did not answer within \(timeoutSeconds) s", retryAfter: nil)
        case .transport(.tls(let reason)):
            return .error(status: .badGateway, kind: .upstreamUnavailable,
                          message: "the upstream's TLS certificate could not be verified (\(reason)); fix the config's URL or trust its CA (UPSTREAM_CA_FILE)",
                          retryAfter: nil)
        case .transport:
            return .error(status: .badGateway, kind: .upstreamUnavailable, message: "the upstream could not be reached", retryAfter: nil)
        case .brokenAnswer(let received, let declared, let timedOut):
            // A clear error beats a truncated answer under a 200.
            if timedOut {
                return .error(status: .gatewayTimeout, kind: .timeout,
                              message: "the upstream stopped sending its answer for \(timeoutSeconds) s (\(received) of \(declared) bytes)", retryAfter: nil)
            }
            return .error(status: .badGateway, kind: .upstreamUnavailable,
                          message: "the upstream's answer broke off after \(received) of \(declared) bytes", retryAfter: nil)
        case .response(_, _, _, .rateLimited) where soonestFree == nil:
            // Out of time while rotating past rate-limited keys: still a 429, with the shortest honest wait.
            return allCooling(soonestFree: 1)
        default:
            break
        }
        if let soonestFree { return allCooling(soonestFree: soonestFree) }
        return .error(status: .serviceUnavailable, kind: .upstreamUnavailable,
                      message: "proxy config '\(slug)' has no usable keys: add keys or re-enable invalid ones", retryAfter: nil)
    }

    private func allCooling(soonestFree: Double) -> FinalAnswer {
        let seconds = max(1, Int(soonestFree.rounded(.up)))
        return .error(status: .tooManyRequests, kind: .rateLimited,
                      message: "every key of '\(slug)' is rate limited; retry after \(seconds) s", retryAfter: seconds)
    }

    private static func describe(_ failure: TransportFailure) -> String {
        switch failure {
        case .connectFailed: return "upstream unreachable: connect failed"
        case .timedOut: return "upstream unreachable: read timeout"
        case .closed: return "upstream unreachable: connection closed"
        case .tls(let reason): return "upstream TLS failure: \(reason)"
        }
    }
}

extension ProxyStateMachine.FinalAnswer {
    /// True when every key was cooling (metrics count it).
    public var isAllKeysCooling: Bool {
        if case .error(.tooManyRequests, .rateLimited, _, _) = self { return true }
        return false
    }
}
