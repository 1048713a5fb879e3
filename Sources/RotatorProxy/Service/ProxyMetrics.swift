import FormatConversion
import Foundation
import KeyCoordination
import Metrics
import NIOCore
import RotatorCore
import Synchronization
import TrafficStats
import UpstreamProviders

/// What the proxy counts, through swift-metrics (Prometheus in production, nothing in unit tests), and into the node's
/// `TrafficStats` ring buffers (the admin page's charts and key explanations) when one is given. Handles are made
/// once per label set and kept, so a request costs a dictionary lookup, not a handle allocation. Slug labels only
/// ever hold configured slugs, so a client cannot blow up label cardinality.
public final class ProxyMetrics: Sendable {
    /// The counters and timer of one slug.
    final class SlugMetrics: Sendable {
        let selections: Counter
        let retries: Counter
        let cooldowns: Counter
        let quarantines: Counter
        let invalidated: Counter
        let allKeysCooling: Counter
        /// The whole pool was rested for an account- or IP-wide rate limit (`PoolRateLimitDetector`).
        let poolCooled: Counter
        /// A key's quota or credit is gone (`AnswerBlame.keyExhausted`).
        let quotaExhausted: Counter
        /// The request's own fault ended the rotation; no key was blamed (`AnswerBlame.request`).
        let blamedRequest: Counter
        /// Tokens converted answers reported (streams once they ended): read from the answer, as the client never
        /// sees the upstream's own usage fields.
        let convertedInputTokens: Counter
        let convertedOutputTokens: Counter
        /// Tokens every LLM answer reported, converted or passed through (`UsageTap`).
        let inputTokens: Counter
        let outputTokens: Counter
        let cachedTokens: Counter
        let upstreamLatency: Timer

        init(slug: String, factory: any MetricsFactory) {
            func counter(_ label: String) -> Counter { Counter(label: label, dimensions: [("slug", slug)], factory: factory) }
            selections = counter("rotator_key_selections_total")
            retries = counter("rotator_retries_total")
            cooldowns = counter("rotator_cooldowns_total")
            quarantines = counter("rotator_quarantines_total")
            invalidated = counter("rotator_keys_invalidated_total")
            allKeysCooling = counter("rotator_all_keys_cooling_total")
            poolCooled = counter("rotator_pool_cooldowns_total")
            quotaExhausted = counter("rotator_quota_exhausted_total")
            blamedRequest = counter("rotator_request_faults_total")
            convertedInputTokens = counter("rotator_converted_input_tokens_total")
            convertedOutputTokens = counter("rotator_converted_output_tokens_total")
            inputTokens = counter("rotator_input_tokens_total")
            outputTokens = counter("rotator_output_tokens_total")
            cachedTokens = counter("rotator_cached_tokens_total")
            upstreamLatency = Timer(label: "rotator_upstream_latency_seconds", dimensions: [("slug", slug)], factory: factory)
        }
    }

    private struct FinishedLabels: Hashable {
        var slug: String
        var status: Int
        var format: String
    }

    private let factory: any MetricsFactory
    private let slugs = Mutex<[String: SlugMetrics]>([:])
    private let finished = Mutex<[FinishedLabels: Counter]>([:])
    private let traffic: TrafficStats?

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance, traffic: TrafficStats? = nil) {
        self.factory = factory
        self.traffic = traffic
    }

    func forSlug(_ slug: String) -> SlugMetrics {
        slugs.withLock { slugs in
            if let existing = slugs[slug] { return existing }
            let made = SlugMetrics(slug: slug, factory: factory)
            slugs[slug] = made
            return made
        }
    }

    func requestFinished(slug: String, status: Int, format: String) {
        let labels = FinishedLabels(slug: slug, status: status, format: format)
        let counter = finished.withLock { finished in
            if let existing = finished[labels] { return existing }
            let made = Counter(label: "rotator_requests_total", dimensions: [("slug", slug), ("status", String(status)), ("format", format)],
                               factory: factory)
            finished[labels] = made
            return made
        }
        counter.increment()
    }

    // MARK: Client keys

    private struct ClientKeyCounters {
        var name: String
        var requests: Counter
        var input: Counter
        var output: Counter
        var cached: Counter

        init(label: String, factory: any MetricsFactory) {
            name = label
            func counter(_ metric: String, _ kind: String?) -> Counter {
                Counter(label: metric, dimensions: [("client_key", label)] + (kind.map { [("kind", $0)] } ?? []), factory: factory)
            }
            requests = counter("rotator_client_key_requests_total", nil)
            input = counter("rotator_client_key_tokens_total", "input")
            output = counter("rotator_client_key_tokens_total", "output")
            cached = counter("rotator_client_key_tokens_total", "cached")
        }

        func destroy() {
            for counter in [requests, input, output, cached] { counter.destroy() }
        }
    }

    private struct ClientKeyState {
        var labels = ClientKeyLabels()
        /// By the label's name (`other` included).
        var counters: [String: ClientKeyCounters] = [:]
        var nameByID: [Int64: String] = [:]
    }

    private let clientKeys = Mutex(ClientKeyState())

    /// A client key's request finished (with the tokens its answer reported): counted under its name, or `other` beyond
    /// the top keys (`ClientKeyLabels`).
    func clientKeyUsage(id: Int64, name: String, usage: TokenUsage?) {
        let counters = clientKeys.withLock { state in
            let label = state.labels.label(id: id, name: name)
            if label != ClientKeyLabels.other, state.nameByID[id] != name { state.nameByID[id] = name }
            if let existing = state.counters[label] { return existing }
            let made = ClientKeyCounters(label: label, factory: factory)
            state.counters[label] = made
            return made
        }
        counters.requests.increment()
        guard let usage else { return }
        counters.input.increment(by: Int64(usage.inputTokens))
        counters.output.increment(by: Int64(usage.outputTokens))
        counters.cached.increment(by: Int64(usage.cachedTokens))
    }

    /// Recomputes which client keys are named (called by the usage flush); the series of keys folded into `other` go.
    public func rebalanceClientKeyLabels() {
        let dropped: [ClientKeyCounters] = clientKeys.withLock { state in
            state.labels.rebalance().compactMap { id in
                guard let name = state.nameByID.removeValue(forKey: id) else { return nil }
                return state.counters.removeValue(forKey: name)
            }
        }
        for counters in dropped { counters.destroy() }
    }

    // MARK: Traffic (admin charts): each a plain call on the event loop, one lock inside `TrafficStats`

    /// A client request of a configured pool was answered; `addedNanoseconds` is the time this node took to the
    /// client's first byte minus the upstream's time to answer.
    func requestCompleted(pool: Int64?, status: Int, addedNanoseconds: Int64) {
        guard let traffic, let pool else { return }
        traffic.recordRequest(config: pool, status: status, addedNanoseconds: max(0, addedNanoseconds))
    }

    func keyUsed(pool: Int64, key: Int64) {
        traffic?.recordKeyUse(config: pool, key: key)
    }

    /// What the state machine made of an attempt, with its verdict on the answer (the reset hint and the provider's
    /// message come from the one parse of the body there).
    func keyOutcome(_ outcome: KeyOutcome, key: Int64, pool: Int64, answer: UpstreamAnswer?, secret: String?) {
        guard let traffic else { return }
        let message = answer?.providerMessage.map { ProviderMessage.scrub($0, secret: secret) }.flatMap { $0.isEmpty ? nil : $0 }
        switch outcome {
        case .success:
            break
        case .upstreamFailure:
            traffic.recordUpstreamFailure(config: pool, key: key)
        case .rateLimited(let cooldown, _):
            let hinted = answer?.hasResetHint ?? false
            traffic.recordRateLimit(config: pool, key: key, seconds: cooldown, source: hinted ? .providerHint : .defaultCooldown)
        case .rejected:
            traffic.recordRejection(config: pool, key: key, status: answer?.status ?? 401, message: message, quarantinedUntil: nil, invalidated: false)
        case .quotaExhausted(let cooldown, _, _):
            traffic.recordQuotaExhausted(config: pool, key: key, status: answer?.status ?? 429, seconds: cooldown, message: message)
        }
    }

    /// The coordinator's answer to a rejection: until when the key is quarantined, or that it is now invalid.
    func keyEffect(_ effect: OutcomeEffect, key: Int64, pool: Int64) {
        switch effect {
        case .quarantined(let until): traffic?.amendRejection(config: pool, key: key, quarantinedUntil: until, invalidated: false)
        case .invalidated: traffic?.amendRejection(config: pool, key: key, quarantinedUntil: nil, invalidated: true)
        case .none, .cooledDown: break
        }
    }
}
