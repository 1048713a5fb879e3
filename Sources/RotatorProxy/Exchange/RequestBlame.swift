import KeyCoordination
import RotatorCore
import UpstreamProviders

/// The blame across the attempts of one client request: what to tell the coordinator about each key, and whether
/// to deliver, try another key or answer the client. Events in (an answer, judged by `UpstreamAnswerClassifier`,
/// or a transport failure), a `Step` out; no I/O.
///
/// Bounds, for one request:
/// - answers that are the request's own fault: 1 upstream call when no key could serve it (invalid, too large for
///   the model), 2 when two keys agree, `Rules.requestAnswerLimit` (3) at most; then the upstream's answer goes
///   to the client and no key is blamed;
/// - upstream failures (5xx, overload, connect errors): 2 calls when two keys give the same answer, at most
///   `maxRetries` + 1;
/// - key-level answers: one call per key (each key is excluded after its answer, and the answer is that key's own
///   evidence), within the request's deadline;
/// - rate-limit and quota answers: `Rules.maxRateLimitedKeys` of them (`RATE_LIMIT_MAX_KEYS`, 3; a key offered again
///   after a short wait counts again), then the client gets a 429 with the soonest wait they gave, so no single
///   request can rest the whole pool.
/// One request gives a key at most one strike (a rejection): a key offered again after a wait cannot be struck twice.
/// A rest is scoped to the request's model when the provider's limit is per model (`UpstreamAnswer.isPerModel`).
/// A key is blamed only on key-level evidence: a provider's code (or the config's override), or a bare 401 that
/// another key answered differently. When two keys give the same bare 401, it is the request's doing: the client
/// gets the answer, and the keys are charged an error, never a rejection.
/// A request the upstream may have processed (sent in full, non-idempotent) is never sent again after a read
/// timeout or a broken answer unless the config opts in: the client gets a 504 (or 502) saying so.
public struct RequestBlame: Sendable {
    public struct Rules: Sendable, Equatable {
        /// Extra calls after upstream failures (`MAX_RETRIES`).
        public var maxRetries: Int
        /// Cooldown of a rate-limited key whose answer carried no reset (`COOLDOWN_SECONDS`).
        public var defaultCooldown: Double
        /// Cooldown of a key whose quota or credit is gone, unless the provider says longer.
        public var quotaCooldown: Double
        /// The config's `retry_after_read_timeout`.
        public var retryAfterReadTimeout: Bool
        /// `PROXY_TIMEOUT`, for messages.
        public var timeout: Double
        /// Most keys one request may see rate limited (or out of quota) before it answers 429 (`RATE_LIMIT_MAX_KEYS`).
        public var maxRateLimitedKeys: Int

        /// Most upstream calls a request may make for reasons of its own.
        public static let requestAnswerLimit = 3

        public init(
            maxRetries: Int, defaultCooldown: Double, quotaCooldown: Double, retryAfterReadTimeout: Bool, timeout: Double, maxRateLimitedKeys: Int = 3
        ) {
            self.maxRetries = maxRetries
            self.defaultCooldown = defaultCooldown
            self.quotaCooldown = quotaCooldown
            self.retryAfterReadTimeout = retryAfterReadTimeout
            self.timeout = timeout
            self.maxRateLimitedKeys = maxRateLimitedKeys
        }

        public init(settings: ProxySettings, config: ProxyConfig) {
            self.init(
                maxRetries: settings.maxRetries, defaultCooldown: settings.defaultCooldown, quotaCooldown: settings.quotaCooldown,
                retryAfterReadTimeout: config.retryAfterReadTimeout, timeout: settings.timeout, maxRateLimitedKeys: settings.rateLimitMaxKeys
            )
        }
    }

    /// What to tell the coordinator about one key.
    public struct KeyReport: Sendable, Equatable {
        public var key: Int64
        public var outcome: KeyOutcome

        public init(key: Int64, outcome: KeyOutcome) {
            self.key = key
            self.outcome = outcome
        }
    }

    public struct Step: Sendable, Equatable {
        /// What to tell the coordinator about the key that made this attempt (nil: nothing).
        public var report: KeyOutcome?
        /// What to tell it about earlier keys whose answers this one settled (a bare 401 another key confirmed or
        /// refuted), in order.
        public var settled: [KeyReport]
        public var next: Next

        public init(report: KeyOutcome?, settled: [KeyReport] = [], next: Next) {
            self.report = report
            self.settled = settled
            self.next = next
        }
    }

    public enum Next: Sendable, Equatable {
        /// Send this answer to the client (scrubbed of the key).
        case deliver
        /// Exclude this key and acquire another.
        case tryAnotherKey
        /// Answer the client with this error, in its format.
        case fail(ProxyFailure)
    }

    /// The answer once the coordinator has no key left to offer (or the deadline passed).
    public enum Ending: Sendable, Equatable {
        /// Pass the last upstream answer on, as it came (scrubbed).
        case deliverLastAnswer
        case fail(ProxyFailure)
    }

    private enum Last: Sendable {
        case answer(AnswerBlame, status: Int)
        case transport(TransportFailure)
    }

    private let rules: Rules
    private let isIdempotent: Bool
    /// The request's model (nil: it names none): per-model rests are scoped to it.
    private let model: String?
    /// Keys this request already blamed with a rejection: never twice.
    private var struck: Set<Int64> = []
    /// Rate-limit and quota answers this request had (a key offered again after a wait counts again), and the
    /// shortest rest one of them gave.
    private var rateLimitedAnswers = 0
    private var soonestRest: Double?
    private var retries = 0
    private var requestAnswers = 0
    /// Which keys gave which non-key-level answer.
    private var keysBySignature: [String: Set<Int64>] = [:]
    private var last: Last?
    /// A bare 401 (status only) no other key has answered yet: whether it blames the key depends on the next answer.
    private var unsettled: (key: Int64, signature: String, reason: String)?
    /// Upstream calls judged so far.
    public private(set) var upstreamCalls = 0

    /// - Parameters:
    ///   - method: the request's HTTP method; GET, HEAD, OPTIONS, TRACE, PUT and DELETE are idempotent.
    ///   - model: the model the upstream request names (`RequestModel`), nil when it names none.
    public init(rules: Rules, method: String, model: String? = nil) {
        self.rules = rules
        self.isIdempotent = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"].contains(method.uppercased())
        self.model = model
    }

    public mutating func judge(_ answer: UpstreamAnswer, key: Int64) -> Step {
        upstreamCalls += 1
        var settled: [KeyReport] = []
        if let pending = unsettled, pending.key != key {
            unsettled = nil
            if answer.blame == .keyInvalid, answer.isStatusOnly, answer.signature == pending.signature {
                // Two keys, the same bare 401: the request's doing. Charged as errors, blaming neither key.
                requestAnswers += 1
                last = .answer(.request(dependsOnKey: false), status: answer.status)
                return Step(report: .upstreamFailure(reason: answer.reason),
                            settled: [KeyReport(key: pending.key, outcome: .upstreamFailure(reason: pending.reason))], next: .deliver)
            }
            // Another key answered differently: the 401 was about that key.
            settled.append(KeyReport(key: pending.key, outcome: strike(pending.key, reason: pending.reason)))
        }
        last = .answer(answer.blame, status: answer.status)
        let (outcome, next) = verdict(on: answer, key: key)
        if next != .tryAnotherKey, let pending = unsettled {
            // The request ends on the key that left the 401 unsettled: nothing else will settle it.
            unsettled = nil
            settled.append(KeyReport(key: pending.key, outcome: .upstreamFailure(reason: pending.reason)))
        }
        return Step(report: outcome, settled: settled, next: next)
    }

    private mutating func verdict(on answer: UpstreamAnswer, key: Int64) -> (KeyOutcome?, Next) {
        switch answer.blame {
        case .success:
            return (.success, .deliver)
        case .keyInvalid where answer.isStatusOnly:
            unsettled = (key, answer.signature, answer.reason)
            return (nil, .tryAnotherKey)
        case .keyInvalid:
            return (strike(key, reason: answer.reason), .tryAnotherKey)
        case .keyExhausted(let hint):
            let cooldown = max(hint ?? 0, rules.quotaCooldown)
            return (.quotaExhausted(cooldown: cooldown, reason: answer.reason, model: scope(answer)), rested(key, cooldown))
        case .rateLimited(let hint):
            let cooldown = hint ?? rules.defaultCooldown
            return (.rateLimited(cooldown: cooldown, model: scope(answer)), rested(key, cooldown))
        case .request(let dependsOnKey):
            requestAnswers += 1
            // The key authenticated and the upstream judged the request: that is a working key.
            let agreed = recordAgreement(answer.signature, key: key)
            let done = !dependsOnKey || agreed || requestAnswers >= Rules.requestAnswerLimit
            return (.success, done ? .deliver : .tryAnotherKey)
        case .upstream:
            retries += 1
            let agreed = recordAgreement(answer.signature, key: key)
            let done = agreed || retries > rules.maxRetries
            return (.upstreamFailure(reason: answer.reason), done ? .deliver : .tryAnotherKey)
        }
    }

    /// A rejection, unless this request already struck the key: then an error, never a second strike.
    private mutating func strike(_ key: Int64, reason: String) -> KeyOutcome {
        guard struck.insert(key).inserted else { return .upstreamFailure(reason: reason) }
        return .rejected(reason: reason)
    }

    /// The model a rest is scoped to: the request's, when the provider's limit is per model.
    private func scope(_ answer: UpstreamAnswer) -> String? {
        answer.isPerModel ? model : nil
    }

    /// Another key, until `maxRateLimitedKeys` rate-limit answers: then a 429 with the soonest rest they gave.
    private mutating func rested(_ key: Int64, _ cooldown: Double) -> Next {
        rateLimitedAnswers += 1
        soonestRest = min(soonestRest ?? cooldown, cooldown)
        guard rateLimitedAnswers >= rules.maxRateLimitedKeys else { return .tryAnotherKey }
        let seconds = Self.retryAfter(soonestRest ?? cooldown)
        return .fail(ProxyFailure(
            status: 429, kind: .rateLimited,
            message: "the upstream rate limited this request on \(rateLimitedAnswers) keys (RATE_LIMIT_MAX_KEYS); retry after \(seconds) s",
            retryAfter: seconds))
    }

    public mutating func judge(_ failure: TransportFailure, key: Int64) -> Step {
        upstreamCalls += 1
        last = .transport(failure)
        let report = KeyOutcome.upstreamFailure(reason: failure.description)
        let next: Next
        if failure.mayHaveBeenProcessed, !isIdempotent, !rules.retryAfterReadTimeout {
            next = .fail(notRetried(failure))
        } else {
            retries += 1
            next = retries <= rules.maxRetries ? .tryAnotherKey : .fail(unreachable(failure))
        }
        // No answer settles nothing; an unsettled 401 is owed once the request ends.
        return Step(report: report, settled: next == .tryAnotherKey ? [] : settleAtEnd(), next: next)
    }

    /// An unsettled bare 401 when the request ends: no other key answered, so it cannot blame its key.
    private mutating func settleAtEnd() -> [KeyReport] {
        let owed = owedReports
        unsettled = nil
        return owed
    }

    /// What the coordinator is still owed when the request ends without another judged answer (out of keys, out of
    /// time): an unsettled bare 401, charged as an error, never a rejection. Report these once, at the end.
    public var owedReports: [KeyReport] {
        unsettled.map { [KeyReport(key: $0.key, outcome: .upstreamFailure(reason: $0.reason))] } ?? []
    }

    /// - Parameters:
    ///   - soonestFree: the coordinator's wait when it answered `.unavailable`; nil when the pool is empty or the
    ///     request's deadline passed.
    ///   - poolCooling: the pool's cooling, when the coordinator rests it as a whole.
    /// Report `owedReports` too when the request ends here.
    public func outOfKeys(slug: String, soonestFree: Double?, poolCooling: PoolCooling? = nil) -> Ending {
        // An unsettled bare 401 is the upstream's answer to pass on, not a verdict on the keys.
        if unsettled != nil, case .answer = last { return .deliverLastAnswer }
        switch last {
        case .answer(.upstream, _), .answer(.request, _):
            return .deliverLastAnswer
        case .answer(.keyInvalid, let status) where soonestFree == nil:
            return .fail(ProxyFailure(status: 503, kind: .upstreamUnavailable,
                                      message: "the upstream rejected the keys of '\(slug)' (last answer \(status)); an admin must check them"))
        case .answer(.keyExhausted, _) where soonestFree == nil:
            return .fail(ProxyFailure(status: 503, kind: .upstreamUnavailable,
                                      message: "the keys of '\(slug)' are out of credit or quota; an admin must check them"))
        case .transport(let failure):
            return .fail(unreachable(failure))
        default:
            break
        }
        if let poolCooling, let soonestFree {
            let seconds = Self.retryAfter(soonestFree)
            return .fail(ProxyFailure(status: 429, kind: .rateLimited,
                                      message: "the upstream limits every key of '\(slug)' at once (\(poolCooling.reason)); retry after \(seconds) s",
                                      retryAfter: seconds))
        }
        if let soonestFree {
            let seconds = Self.retryAfter(soonestFree)
            return .fail(ProxyFailure(status: 429, kind: .rateLimited, message: "every key of '\(slug)' is rate limited; retry after \(seconds) s",
                                      retryAfter: seconds))
        }
        if case .answer(.rateLimited, _) = last {
            // Out of time while rotating past rate-limited keys: still a 429, with the shortest honest wait.
            return .fail(ProxyFailure(status: 429, kind: .rateLimited, message: "every key of '\(slug)' is rate limited; retry after 1 s", retryAfter: 1))
        }
        return .fail(ProxyFailure(status: 503, kind: .upstreamUnavailable,
                                  message: "proxy config '\(slug)' has no usable keys: add keys or re-enable invalid ones"))
    }

    /// True when another key already gave this answer.
    private mutating func recordAgreement(_ signature: String, key: Int64) -> Bool {
        let keys = keysBySignature[signature, default: []]
        keysBySignature[signature] = keys.union([key])
        return !keys.subtracting([key]).isEmpty
    }

    private static func retryAfter(_ seconds: Double) -> Int {
        max(1, Int(seconds.rounded(.up)))
    }

    private func notRetried(_ failure: TransportFailure) -> ProxyFailure {
        let why = "the request was not sent again on another key because the upstream may already have processed it"
            + " (set retry_after_read_timeout on the config to allow it)"
        if failure.timedOut {
            return ProxyFailure(status: 504, kind: .timeout, message: "the upstream did not answer within \(Int(rules.timeout)) s; \(why)")
        }
        return ProxyFailure(status: 502, kind: .upstreamUnavailable, message: "\(failure.description); \(why)")
    }

    private func unreachable(_ failure: TransportFailure) -> ProxyFailure {
        switch failure {
        case .answerBrokeOff(let received, let declared, true):
            return ProxyFailure(status: 504, kind: .timeout,
                                message: "the upstream stopped sending its answer for \(Int(rules.timeout)) s (\(received) of \(declared) bytes)")
        case .answerBrokeOff(let received, let declared, false):
            return ProxyFailure(status: 502, kind: .upstreamUnavailable, message: "the upstream's answer broke off after \(received) of \(declared) bytes")
        case .notSent(true), .noAnswer(_, true):
            return ProxyFailure(status: 504, kind: .timeout, message: "the upstream did not answer within \(Int(rules.timeout)) s")
        case .notSent(false), .noAnswer(_, false), .tls:
            return ProxyFailure(status: 502, kind: .upstreamUnavailable, message: "the upstream could not be reached")
        }
    }
}
