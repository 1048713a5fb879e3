import KeyCoordination
import NIOCore
import NIOHTTP1
import UpstreamProviders

/// The decisions of one proxied request over its pool, as a value type: the relay feeds it what happened (a key
/// offered, an upstream answer, a transport failure, a wait that ended) and performs the action it returns (ask for a
/// key, send, wait, catch up with the store, answer). It does no I/O, so every rule is tested without sockets.
///
/// Whose fault an answer is comes from `UpstreamAnswerClassifier` (status, the provider's error body, the config's
/// overrides) and the blame across attempts from `RequestBlame`; this adds the pool's side: which key next, waiting
/// for a paced key, catching up with the store, and the deadline. Rotating past rate-limited or rejected keys costs no
/// retry budget; rotations and retries alike stop at the request's deadline (`PROXY_TOTAL_TIMEOUT`); nothing is
/// retried once a byte has gone to the client (the relay stops asking once it streams).
public struct ProxyStateMachine: Sendable {
    public struct Limits: Sendable {
        /// One attempt's connect and read timeout (`PROXY_TIMEOUT`).
        public var timeout: TimeAmount
        /// The request's overall deadline before its answer starts (`PROXY_TOTAL_TIMEOUT`): every attempt, retry,
        /// rotation past busy keys and wait for a paced key fits in it.
        public var total: TimeAmount
        /// The longest a request waits for a paced-out key before answering 429.
        public var pacingMaxWait: Double
        /// Answers up to this declared size are read whole and sent in one write; larger ones stream.
        public var wholeAnswerLimit: Int = 256 * 1024
        /// Error bodies are read whole (reset hints, or to pass on); longer ones are cut here.
        public var errorBodyLimit: Int = 1 << 20
        /// A successful answer that is converted whole (not streamed) is read up to this size; a larger one is a 502.
        public var convertedAnswerLimit: Int = 32 << 20

        /// - Parameter total: nil: the same as `timeout`.
        /// - Parameter total: nil: the same as `timeout`. (Retries and cooldowns are `RequestBlame.Rules`.)
        public init(timeout: TimeAmount, total: TimeAmount? = nil, pacingMaxWait: Double) {
            self.timeout = timeout
            self.total = total ?? timeout
            self.pacingMaxWait = pacingMaxWait
        }
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
        case error(ProxyFailure)
    }

    public enum Event: Sendable {
        /// `storeReachable`: whether the store answered its last check (a catch-up is not tried while it is away).
        case keyOffered(KeyAcquisition, isKnown: Bool, storeReachable: Bool, now: NIODeadline)
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
        /// Reports about earlier keys that this attempt's answer settled (`RequestBlame.Step.settled`).
        public var settled: [RequestBlame.KeyReport] = []
        /// The verdict on the answer this step judged (nil for other events): what metrics and the admin page record.
        public var answer: UpstreamAnswer?
    }

    /// Reports still owed once the request has its final answer (`RequestBlame.owedReports`).
    public var owedReports: [RequestBlame.KeyReport] { blame.owedReports }

    public let limits: Limits
    public let slug: String
    /// Past it no other attempt starts, and the relay cuts the one under way (`Limits.total`).
    public let deadline: NIODeadline
    /// Keys the coordinator offered that this node's cache does not hold (another node synced a newer pool).
    private var unknown: Set<Int64> = []
    /// The keys offered that this node's cache did not hold (a catch-up looks for them).
    public var unknownKeys: Set<Int64> { unknown }
    /// Keys that failed this request, plus the unknown ones: skipped while any other key can serve it.
    private var excluded: Set<Int64> = []
    private var caughtUpOnce = false
    private var blame: RequestBlame
    private let classifier: UpstreamAnswerClassifier
    /// The last answer that was judged, passed on when no key is left and the blame says so.
    private var lastAnswer: (status: Int, headers: HTTPHeaders, body: ByteBuffer)?
    /// Set when this request saw the pool rested as a whole (`poolRested`): the final 429 says so.
    public private(set) var poolCooling: PoolCooling?
    /// The key the current attempt uses.
    public private(set) var currentKey: Int64?
    /// Upstream calls made so far (the first is not a retry).
    public private(set) var attempts = 0
    /// Reads the wall time (reset dates in headers) off the loop's clock.
    private let wallClock: WallClock

    public init(
        slug: String, limits: Limits, blame: RequestBlame, classifier: UpstreamAnswerClassifier, startedAt now: NIODeadline, wallClock: WallClock
    ) {
        self.slug = slug
        self.limits = limits
        self.blame = blame
        self.classifier = classifier
        self.deadline = now + limits.total
        self.wallClock = wallClock
    }

    /// Reporting this request's rate limits rested the pool as a whole.
    public mutating func poolRested(_ cooling: PoolCooling) {
        poolCooling = cooling
    }

    /// The first action of every request.
    public func start() -> Action {
        .acquireKey(excluding: excluded)
    }

    /// How a 2xx-or-other answer with this head is read.
    public func delivery(status: Int, headers: HTTPHeaders, method: HTTPMethod) -> Delivery {
        // Every error answer (and any status a config override names) is read before it is judged: its body says
        // whose fault it is.
        if status >= 400 || classifier.overrides.contains(where: { $0.status == status }) { return .readErrorBody }
        guard let declared = headers.first(name: "content-length").flatMap(Int.init), declared <= limits.wholeAnswerLimit,
            method != .HEAD, status != 204, status != 304,
            !headers["content-type"].contains(where: { $0.lowercased().hasPrefix("text/event-stream") })
        else { return .stream }
        return .whole(contentLength: declared)
    }

    public mutating func handle(_ event: Event) -> Step {
        switch event {
        case .keyOffered(let acquisition, let isKnown, let storeReachable, let now):
            return Step(report: nil, action: offered(acquisition, isKnown: isKnown, storeReachable: storeReachable, now: now))
        case .answerRead(let status, let headers, let body, let now):
            lastAnswer = (status, headers, body)
            let answer = classifier.classify(status: status, headers: headers, body: body, now: wallClock.date(at: now))
            var step = follow(blame.judge(answer, key: attemptKey), now: now)
            step.answer = answer
            return step
        case .transportFailed(.tls(let reason), _):
            let failure = ProxyFailure(
                status: 502, kind: .upstreamUnavailable,
                message: "the upstream's TLS certificate could not be verified (\(reason)); fix the config's URL or trust its CA (UPSTREAM_CA_FILE)"
            )
            return Step(report: .upstreamFailure(reason: TransportFailure.tls(reason).description), action: .answer(.error(failure)))
        case .transportFailed(let failure, let now):
            return follow(blame.judge(failure, key: attemptKey), now: now)
        case .answerBrokeOff(let received, let declared, let timedOut, let now):
            return follow(blame.judge(.answerBrokeOff(received: received, declared: declared, timedOut: timedOut), key: attemptKey), now: now)
        case .waited:
            excluded = unknown
            return Step(report: nil, action: .acquireKey(excluding: excluded))
        case .caughtUp(let stillUnknown):
            unknown = stillUnknown
            excluded = unknown
            return Step(report: nil, action: .acquireKey(excluding: excluded))
        }
    }

    /// The key of the attempt being judged: an answer or a failure comes only after a key was sent.
    private var attemptKey: Int64 {
        guard let currentKey else { preconditionFailure("an attempt judged before any key was sent") }
        return currentKey
    }

    /// What the blame decided, with the pool's side added: the next key, or the deadline.
    private mutating func follow(_ step: RequestBlame.Step, now: NIODeadline) -> Step {
        var followed = next(after: step, now: now)
        followed.settled = step.settled
        return followed
    }

    private mutating func next(after step: RequestBlame.Step, now: NIODeadline) -> Step {
        switch step.next {
        case .deliver:
            guard let lastAnswer else { return Step(report: step.report, action: .answer(ending(soonestFree: nil))) }
            return Step(report: step.report, action: .answer(.upstream(status: lastAnswer.status, headers: lastAnswer.headers, body: lastAnswer.body)))
        case .fail(let failure):
            return Step(report: step.report, action: .answer(.error(failure)))
        case .tryAnotherKey:
            if let key = currentKey { excluded.insert(key) }
            // Out of time: rotations and retries alike stop at the request's deadline.
            if now >= deadline { return Step(report: step.report, action: .answer(ending(soonestFree: nil))) }
            return Step(report: step.report, action: .acquireKey(excluding: excluded))
        }
    }

    private mutating func offered(_ acquisition: KeyAcquisition, isKnown: Bool, storeReachable: Bool, now: NIODeadline) -> Action {
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
            return .answer(ending(soonestFree: nil))
        case .unavailable(let wait):
            if wait <= 0, !excluded.isEmpty {
                if excluded == unknown {
                    // Only keys this node does not know yet are free: its cache is behind the coordinator. Catch up once,
                    // then answer if that did not help.
                    guard !caughtUpOnce, storeReachable else {
                        return .answer(.error(ProxyFailure(status: 503, kind: .upstreamUnavailable,
                                                           message: "the keys of '\(slug)' are being updated on this node; retry shortly", retryAfter: 1)))
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
            return .answer(ending(soonestFree: wait))
        }
    }

    /// No key can serve (any more): the blame says what the client gets.
    private func ending(soonestFree: Double?) -> FinalAnswer {
        switch blame.outOfKeys(slug: slug, soonestFree: soonestFree, poolCooling: poolCooling) {
        case .deliverLastAnswer:
            if let lastAnswer { return .upstream(status: lastAnswer.status, headers: lastAnswer.headers, body: lastAnswer.body) }
            return .error(ProxyFailure(status: 502, kind: .upstreamUnavailable, message: "the upstream could not be reached"))
        case .fail(let failure):
            return .error(failure)
        }
    }
}

extension ProxyStateMachine.FinalAnswer {
    /// True when every key was cooling (metrics count it).
    public var isAllKeysCooling: Bool {
        if case .error(let failure) = self, failure.status == 429, failure.kind == .rateLimited { return true }
        return false
    }
}
