import KeyCoordination
import Metrics
import RotatorCore
import RotatorHTTP
import TrafficStats

/// What the proxy counts, through swift-metrics (Prometheus in production, nothing in unit tests), and into the
/// node's `TrafficStats` ring buffers (the admin page's charts and key explanations) when one is given.
/// Slug labels only ever hold configured slugs, so a client cannot blow up label cardinality.
public struct ProxyMetrics: Sendable {
    private let factory: any MetricsFactory
    private let traffic: TrafficStats?

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance, traffic: TrafficStats? = nil) {
        self.factory = factory
        self.traffic = traffic
    }

    func requestFinished(slug: String, status: Int, format: String) {
        Counter(label: "rotator_requests_total", dimensions: [("slug", slug), ("status", String(status)), ("format", format)], factory: factory)
            .increment()
    }

    func upstreamAnswered(slug: String, after duration: Duration) {
        Timer(label: "rotator_upstream_latency_seconds", dimensions: [("slug", slug)], factory: factory).recordNanoseconds(duration.nanoseconds)
    }

    func keySelected(slug: String) { count("rotator_key_selections_total", slug) }
    func retried(slug: String) { count("rotator_retries_total", slug) }
    func cooledDown(slug: String) { count("rotator_cooldowns_total", slug) }
    func quarantined(slug: String) { count("rotator_quarantines_total", slug) }
    func invalidated(slug: String) { count("rotator_keys_invalidated_total", slug) }
    func allKeysCooling(slug: String) { count("rotator_all_keys_cooling_total", slug) }

    private func count(_ label: String, _ slug: String) {
        Counter(label: label, dimensions: [("slug", slug)], factory: factory).increment()
    }

    // MARK: Traffic (admin charts)

    /// A client request of a configured pool got its answer: counted with the time this node added (the time since
    /// the request arrived minus the upstream's answer times recorded by `upstreamTime`).
    func requestCompleted(pool: Int64?, status: Int, fields: AccessLogFields) {
        guard let traffic, let pool else { return }
        let values = fields.snapshot
        let added = (ContinuousClock.now - values.receivedAt).nanoseconds - values.upstreamNanoseconds
        traffic.recordRequest(config: pool, status: status, addedNanoseconds: max(0, added))
    }

    /// How long one upstream attempt took to answer; subtracted from the request's time to get the added latency.
    func upstreamTime(_ duration: Duration, fields: AccessLogFields) {
        guard traffic != nil else { return }
        fields.update { $0.upstreamNanoseconds += duration.nanoseconds }
    }

    func keyUsed(pool: Int64, key: Int64) {
        traffic?.recordKeyUse(config: pool, key: key)
    }

    /// Connect error, timeout, 5xx or an answer that broke off.
    func upstreamFailed(pool: Int64, key: Int64) {
        traffic?.recordUpstreamFailure(config: pool, key: key)
    }

    /// A 429; `hinted` says whether the provider gave a reset hint (else the default cooldown applied).
    func keyCooledDown(pool: Int64, key: Int64, seconds: Double, hinted: Bool) {
        traffic?.recordRateLimit(config: pool, key: key, seconds: seconds, source: hinted ? .providerHint : .defaultCooldown)
    }

    /// A 401/403 and what the coordinator made of it; the provider's message is kept, scrubbed of `secret`.
    func keyRejected(pool: Int64, key: Int64, status: Int, body: some Collection<UInt8>, secret: String, effect: OutcomeEffect) {
        guard let traffic else { return }
        var until: Double?
        if case .quarantined(let end) = effect { until = end }
        traffic.recordRejection(config: pool, key: key, status: status, message: ProviderMessage.extract(from: body, secret: secret),
                                quarantinedUntil: until, invalidated: effect == .invalidated)
    }
}
