import Foundation
import Logging
import RedisClient
import ServiceLifecycle
import TrafficStats

/// Every few seconds (never per request: the proxy stays at one Redis command per request) adds what this node
/// counted since the last push to the fleet's per-minute buckets in Redis, and appends its new key events.
/// Buckets expire after two hours, events after one: Redis holds only statistics that may be lost.
struct TrafficPusher: Service {
    let client: RedisClient
    let stats: TrafficStats
    let nodeID: String
    let logger: Logger
    var interval: Duration = .seconds(3)

    static let bucketTTLSeconds = 7200
    static let eventTTLSeconds = 3600
    static let eventsKeptPerConfig = 500

    /// One call per bucket: add every field, then set the TTL.
    static let addScript = """
        for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
        redis.call('EXPIRE', KEYS[1], ARGV[1])
        return 1
        """

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let interval = self.interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            await push()
        }
    }

    func push() async {
        let (deltas, events) = stats.drainUnpushed()
        var commands: [[RedisArgument]] = deltas.map { delta in
            var command: [RedisArgument] = ["EVAL", RedisArgument(Self.addScript), "1", RedisArgument(FleetTraffic.bucketKey(config: delta.configID, minute: delta.minute)),
                                            RedisArgument(Self.bucketTTLSeconds)]
            for (field, value) in FleetTraffic.fields(of: delta) where value != 0 {
                command.append(RedisArgument(field))
                command.append(RedisArgument(value))
            }
            return command
        }
        let encoder = JSONEncoder()
        for (config, grouped) in Dictionary(grouping: events, by: \.config) {
            let key = RedisArgument(FleetTraffic.eventsKey(config: config))
            let values = grouped.compactMap { try? encoder.encode(StoredKeyEvent($0.event)) }.map { RedisArgument(Array($0)) }
            guard !values.isEmpty else { continue }
            commands.append(["RPUSH", key] + values)
            commands.append(["LTRIM", key, RedisArgument(-Self.eventsKeptPerConfig), "-1"])
            commands.append(["EXPIRE", key, RedisArgument(Self.eventTTLSeconds)])
        }
        guard !commands.isEmpty else { return }
        do {
            _ = try await client.pipeline(commands)
        } catch {
            // Counts of a failed push are not retried: the charts are statistics, and the node's own view keeps them.
            logger.debug("traffic push failed", metadata: ["error": "\(error)"])
        }
    }
}

/// A key event as JSON in Redis.
struct StoredKeyEvent: Codable {
    var kind: String
    var key: Int64
    var at: Double
    var until: Double?
    var source: String?
    var status: Int
    var message: String?

    init(_ event: KeyEvent) {
        kind = event.kind.rawValue
        key = event.keyID
        at = event.at
        until = event.until
        source = event.source?.rawValue
        status = event.status
        message = event.message
    }

    var event: KeyEvent? {
        guard let kind = KeyEvent.Kind(rawValue: kind) else { return nil }
        return KeyEvent(kind: kind, keyID: key, at: at, until: until, source: source.flatMap(KeyEvent.CooldownSource.init(rawValue:)),
                        status: status, message: message)
    }
}
