import Synchronization

/// Everything the mock knows: per-key profiles, the storm switch, counters and recent requests.
///
/// Shared by every request handler and by the test that scripts it, hence one `Mutex` around a plain struct;
/// each request takes the lock once (`admit`) and holds it for a few dictionary operations.
public final class MockUpstreamState: Sendable {
    /// The counters entry for requests that carried no key.
    public static let missingKeyLabel = "(none)"

    private struct Storage: Sendable {
        var settings: MockUpstreamSettings
        var profiles: [String: KeyProfile]
        var defaultProfile: KeyProfile
        var stormUntil: ContinuousClock.Instant?
        var buckets: [String: TokenBucket] = [:]
        var generators: [String: SplitMix64] = [:]
        var counters: [String: KeyCounters] = [:]
        var recent: RecentRequests
        var sequence = 0
        var streams = OpenStreams()
        /// How many times `reset()` ran: streams opened before a reset do not count down after it.
        var streamEpoch = 0

        init(settings: MockUpstreamSettings, profiles: [String: KeyProfile], defaultProfile: KeyProfile) {
            self.settings = settings
            self.profiles = profiles
            self.defaultProfile = defaultProfile
            self.recent = RecentRequests(limit: settings.recordedRequestLimit)
        }
    }

    private let storage: Mutex<Storage>
    /// What `reset()` returns to.
    private let initial: Storage
    private let seed: UInt64

    /// - Parameters:
    ///   - profiles: per-key behaviour at start and after `reset()`.
    ///   - defaultProfile: behaviour of keys without a profile.
    ///   - seed: seeds each key's failure generator, so `failureRate` draws repeat run to run.
    public init(
        settings: MockUpstreamSettings = MockUpstreamSettings(),
        profiles: [String: KeyProfile] = [:],
        defaultProfile: KeyProfile = KeyProfile(),
        seed: UInt64 = 0x5EED
    ) {
        let initial = Storage(settings: settings, profiles: profiles, defaultProfile: defaultProfile)
        self.initial = initial
        self.storage = Mutex(initial)
        self.seed = seed
    }

    // MARK: Scripting

    public var settings: MockUpstreamSettings {
        storage.withLock { $0.settings }
    }

    public func updateSettings(_ change: (inout MockUpstreamSettings) -> Void) {
        storage.withLock { storage in
            change(&storage.settings)
            if storage.settings.recordedRequestLimit != storage.recent.limit {
                storage.recent.removeAll(newLimit: storage.settings.recordedRequestLimit)
            }
        }
    }

    /// Sets (or with `nil` removes) a key's profile. Its token bucket and failure generator start afresh,
    /// so what follows does not depend on the key's history.
    public func setProfile(_ profile: KeyProfile?, forKey key: String) {
        storage.withLock { storage in
            storage.profiles[key] = profile
            storage.buckets[key] = nil
            storage.generators[key] = nil
        }
    }

    public func profile(forKey key: String) -> KeyProfile {
        storage.withLock { $0.profiles[key] ?? $0.defaultProfile }
    }

    /// Behaviour of every key without its own profile; their buckets and generators start afresh.
    public func setDefaultProfile(_ profile: KeyProfile) {
        storage.withLock { storage in
            storage.defaultProfile = profile
            let explicit = storage.profiles
            storage.buckets = storage.buckets.filter { explicit[$0.key] != nil }
            storage.generators = storage.generators.filter { explicit[$0.key] != nil }
        }
    }

    /// An account-wide limit: until `until`, every key is answered 429 with the seconds remaining.
    /// `nil` lifts it.
    public func setGlobalRateLimit(until: ContinuousClock.Instant?) {
        storage.withLock { $0.stormUntil = until }
    }

    /// `setGlobalRateLimit(until: now + seconds)`; 0 or less lifts it.
    public func startStorm(seconds: Double) {
        setGlobalRateLimit(until: seconds > 0 ? .now + .milliseconds(Int64((seconds * 1000).rounded(.up))) : nil)
    }

    public func stopStorm() {
        setGlobalRateLimit(until: nil)
    }

    public var isStorming: Bool {
        storage.withLock { storage in storage.stormUntil.map { $0 > .now } ?? false }
    }

    /// Back to how the state was created: initial settings and profiles, no storm, no counters, no recorded requests,
    /// no stream counts (streams still running are no longer counted).
    public func reset() {
        storage.withLock { storage in
            let epoch = storage.streamEpoch + 1
            storage = initial
            storage.streamEpoch = epoch
        }
    }

    // MARK: Inspection

    /// Keyed by the full key; requests without a key are under `missingKeyLabel`.
    public func counters() -> [String: KeyCounters] {
        storage.withLock { $0.counters }
    }

    public func counters(forKey key: String) -> KeyCounters {
        storage.withLock { $0.counters[key] ?? KeyCounters() }
    }

    /// Every key's counters summed.
    public func totalCounters() -> KeyCounters {
        storage.withLock { storage in
            storage.counters.values.reduce(into: KeyCounters()) { $0.add($1) }
        }
    }

    /// Streamed answers open now, the most open at once and how many started, overall and per key.
    public func openStreams() -> OpenStreams {
        storage.withLock { $0.streams }
    }

    func openStream(key: String) -> OpenStream {
        storage.withLock { storage in
            storage.streams.opened(key: key)
            return OpenStream(key: key, epoch: storage.streamEpoch)
        }
    }

    func closeStream(_ stream: OpenStream) {
        guard stream.end() else { return }
        storage.withLock { storage in
            if storage.streamEpoch == stream.epoch { storage.streams.closed(key: stream.key) }
        }
    }

    /// The last `settings.recordedRequestLimit` requests, oldest first.
    public var recordedRequests: [RecordedRequest] {
        storage.withLock { $0.recent.all }
    }

    // MARK: Deciding

    /// Records the request, decides its answer and counts it, all under one lock.
    /// `forcedStatus` is the request's `x-mock-status`: it wins over the key's profile, not over a missing key.
    /// `refusal` is the provider's verdict on the request itself (400 bad body, 404 no such path), given after the key
    /// checks as the providers do: a bad key is a 401 whatever the body, a bad body a 400 before any rate limit.
    /// `model` is the model the request names (per-model limits apply to it).
    func admit(
        key: String?, model: String? = nil, forcedStatus: Int?, refusal: Int? = nil, record: RecordedRequest?, now: ContinuousClock.Instant = .now
    ) -> Admission {
        storage.withLock { storage in
            storage.sequence += 1
            if let record { storage.recent.append(record) }
            let profile = key.flatMap { storage.profiles[$0] } ?? storage.defaultProfile
            let outcome = Self.decide(
                key: key, model: model, profile: profile, forcedStatus: forcedStatus, refusal: refusal, storage: &storage, seed: seed, now: now
            )
            storage.counters[key ?? Self.missingKeyLabel, default: KeyCounters()].count(status: outcome.status)
            return Admission(
                outcome: outcome,
                latencyMilliseconds: storage.settings.latencyMilliseconds + (key == nil ? 0 : profile.latencyMilliseconds),
                retryAfterStyle: profile.retryAfterStyle,
                chunks: max(0, profile.streamChunks ?? storage.settings.chunks),
                chunkDelayMilliseconds: max(0, profile.chunkDelayMilliseconds ?? storage.settings.chunkDelayMilliseconds),
                sequence: storage.sequence
            )
        }
    }

    private static func decide(
        key: String?, model: String?, profile: KeyProfile, forcedStatus: Int?, refusal: Int?, storage: inout Storage, seed: UInt64,
        now: ContinuousClock.Instant
    ) -> Admission.Outcome {
        guard let key else { return .missingKey }
        if let forcedStatus {
            switch forcedStatus {
            case 401: return .revoked
            case 429: return .rateLimited(retryAfterSeconds: profile.forceRateLimitRetryAfter ?? 1, accountWide: false)
            default: return .status(forcedStatus)
            }
        }
        if profile.revoked { return .revoked }
        if let refusal { return .status(refusal) }
        if let until = storage.stormUntil {
            if until > now {
                return .rateLimited(retryAfterSeconds: max(1, Int((until - now).seconds.rounded(.up))), accountWide: true)
            }
            storage.stormUntil = nil
        }
        if let model, let limit = profile.modelLimits[model] {
            return .modelLimited(model: model, limit)
        }
        if let retryAfter = profile.forceRateLimitRetryAfter {
            return .rateLimited(retryAfterSeconds: retryAfter, accountWide: false)
        }
        if let rate = profile.rateLimitPerSecond {
            var bucket = storage.buckets[key].flatMap { $0.rate == rate ? $0 : nil } ?? TokenBucket(rate: rate, now: now)
            let wait = bucket.take(now: now)
            storage.buckets[key] = bucket
            if let wait { return .rateLimited(retryAfterSeconds: wait, accountWide: false) }
        }
        if let failureStatus = profile.failureStatus, profile.failureRate > 0 {
            if profile.failureRate >= 1 { return .status(failureStatus) }
            var generator = storage.generators[key] ?? SplitMix64(seed: SplitMix64.seed(seed, key: key))
            let draw = Double.random(in: 0..<1, using: &generator)
            storage.generators[key] = generator
            if draw < profile.failureRate { return .status(failureStatus) }
        }
        return .serve
    }
}
