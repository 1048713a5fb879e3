import Metrics
import RotatorCore

/// What the proxy counts, through swift-metrics (Prometheus in production, nothing in unit tests).
/// Slug labels only ever hold configured slugs, so a client cannot blow up label cardinality.
public struct ProxyMetrics: Sendable {
    private let factory: any MetricsFactory

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
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
    /// The whole pool was rested for an account- or IP-wide rate limit (`PoolRateLimitDetector`).
    func poolCooled(slug: String) { count("rotator_pool_cooldowns_total", slug) }
    /// A key's quota or credit is gone (`AnswerBlame.keyExhausted`).
    func quotaExhausted(slug: String) { count("rotator_quota_exhausted_total", slug) }
    /// The request's own fault ended the rotation; no key was blamed (`AnswerBlame.request`).
    func blamedRequest(slug: String) { count("rotator_request_faults_total", slug) }

    private func count(_ label: String, _ slug: String) {
        Counter(label: label, dimensions: [("slug", slug)], factory: factory).increment()
    }
}
