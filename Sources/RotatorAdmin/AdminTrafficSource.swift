import TrafficStats

/// Where the admin API reads traffic and key events: this node's ring buffers (lightweight mode) or the fleet's
/// buckets in Redis summed over nodes (enterprise mode).
public struct AdminTrafficSource: Sendable {
    /// The last hour of a config, and whose it is: `node` (this node's counters) or `fleet` (summed over nodes).
    public var traffic: @Sendable (_ configID: Int64) async -> (traffic: ConfigTraffic, scope: String)
    /// Each key's events of the last hour, oldest first.
    public var events: @Sendable (_ configID: Int64) async -> [Int64: [KeyEvent]]

    public init(
        traffic: @escaping @Sendable (Int64) async -> (traffic: ConfigTraffic, scope: String),
        events: @escaping @Sendable (Int64) async -> [Int64: [KeyEvent]]
    ) {
        self.traffic = traffic
        self.events = events
    }

    /// One node's own counters.
    public static func node(_ stats: TrafficStats) -> AdminTrafficSource {
        AdminTrafficSource(traffic: { (stats.traffic(config: $0), "node") }, events: { stats.recentEvents(config: $0) })
    }
}
