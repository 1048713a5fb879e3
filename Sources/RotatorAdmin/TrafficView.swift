import Foundation
import RotatorCore
import TrafficStats

/// `GET /admin/proxy-configs/{id}/traffic`: the last hour per minute, oldest first, and each key's sparkline
/// and cooldown timeline.
struct TrafficView: Encodable {
    struct Minute: Encodable {
        var start: String
        var requests: Int64
        var upstream_errors: Int64
        var rate_limited: Int64
        var client_errors: Int64
        @ExplicitNull var median_added_latency_ms: Double?
    }

    struct Event: Encodable {
        var kind: String
        var at: String
        @ExplicitNull var until: String?
        @ExplicitNull var source: String?
        var status: Int
        @ExplicitNull var message: String?

        init(_ event: KeyEvent) {
            kind = event.kind.rawValue
            at = Timestamp.string(Date(timeIntervalSince1970: event.at))
            until = event.until.map { Timestamp.string(Date(timeIntervalSince1970: $0)) }
            source = event.source?.rawValue
            status = event.status
            message = event.message
        }
    }

    struct Key: Encodable {
        var key_id: Int64
        var key_value: String
        var uses: [Int64]
        var errors: [Int64]
        var events: [Event]
    }

    var config_id: Int64
    /// `node`: this node's counters; `fleet`: summed over every node (enterprise mode).
    var scope: String
    var minute_seconds = 60
    var minutes: [Minute]
    var keys: [Key]

    /// Every key of the config appears, with zeros when it has not served in the last hour.
    init(_ traffic: ConfigTraffic, keys records: [APIKeyRecord], scope: String) {
        config_id = traffic.configID
        self.scope = scope
        minutes = zip(traffic.minutes, traffic.counters).map { minute, counters in
            Minute(
                start: Timestamp.string(Date(timeIntervalSince1970: Double(minute * 60))), requests: counters.requests,
                upstream_errors: counters.upstreamErrors, rate_limited: counters.rateLimited, client_errors: counters.clientErrors,
                median_added_latency_ms: counters.medianAddedLatencyMilliseconds.map { ($0 * 1000).rounded() / 1000 }
            )
        }
        let count = traffic.minutes.count
        keys = records.map { record in
            let series = traffic.keys[record.id] ?? ConfigTraffic.KeySeries(keyID: record.id, count: count)
            return Key(key_id: record.id, key_value: record.maskedValue, uses: series.uses, errors: series.errors, events: series.events.map(Event.init))
        }
    }
}
