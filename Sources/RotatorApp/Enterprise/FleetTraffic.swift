import Foundation
import RedisClient
import RotatorAdmin
import TrafficStats

/// The fleet's last hour of one config: every node's pushed buckets summed, read with one pipelined round trip.
/// While Redis cannot be read, the node's own counters are shown (and say so).
struct FleetTraffic: Sendable {
    let client: RedisClient
    let local: TrafficStats

    static func bucketKey(config: Int64, minute: Int64) -> String { "rk1:traffic:{config:\(config)}:\(minute)" }
    static func eventsKey(config: Int64) -> String { "rk1:keyevents:{config:\(config)}" }

    /// The hash fields of one delta: counters, latency buckets `l<i>`, key uses `u<id>` and errors `e<id>`.
    static func fields(of delta: TrafficDelta) -> [(String, Int64)] {
        var fields: [(String, Int64)] = [
            ("requests", delta.counters.requests), ("upstream_errors", delta.counters.upstreamErrors),
            ("rate_limited", delta.counters.rateLimited), ("client_errors", delta.counters.clientErrors),
        ]
        for (index, count) in delta.counters.latency.enumerated() { fields.append(("l\(index)", Int64(count))) }
        for key in delta.keys {
            fields.append(("u\(key.id)", key.uses))
            fields.append(("e\(key.id)", key.errors))
        }
        return fields
    }

    /// Adds one bucket's hash (field, value pairs as Redis returns them) to the series.
    static func add(hash values: [RESPValue], minute: Int64, to traffic: inout ConfigTraffic) {
        var counters = MinuteCounters()
        var keys: [Int64: (uses: Int64, errors: Int64)] = [:]
        var index = 0
        while index + 1 < values.count {
            defer { index += 2 }
            guard let field = values[index].string, let value = values[index + 1].int else { continue }
            switch field {
            case "requests": counters.requests = value
            case "upstream_errors": counters.upstreamErrors = value
            case "rate_limited": counters.rateLimited = value
            case "client_errors": counters.clientErrors = value
            default:
                let number = Int64(field.dropFirst())
                switch (field.first, number) {
                case ("l", let bucket?) where bucket >= 0 && bucket < Int64(LatencyHistogram.bucketCount):
                    counters.latency[Int(bucket)] = UInt32(clamping: max(0, value))
                case ("u", let key?): keys[key, default: (0, 0)].uses = value
                case ("e", let key?): keys[key, default: (0, 0)].errors = value
                default: break
                }
            }
        }
        traffic.add(counters, minute: minute)
        for (key, counts) in keys { traffic.addKey(key, minute: minute, uses: counts.uses, errors: counts.errors) }
    }

    var source: AdminTrafficSource {
        AdminTrafficSource(traffic: { config in await traffic(config: config) }, events: { config in await events(config: config) })
    }

    func traffic(config: Int64) async -> (traffic: ConfigTraffic, scope: String) {
        // The node's own unpushed counts reach Redis within a push interval; the current minute may lag by that much.
        var traffic = ConfigTraffic(configID: config, endingAt: Int64(Date().timeIntervalSince1970 / 60))
        let commands: [[RedisArgument]] = traffic.minutes.map { ["HGETALL", RedisArgument(Self.bucketKey(config: config, minute: $0))] }
        do {
            let replies = try await client.pipeline(commands)
            for (minute, reply) in zip(traffic.minutes, replies) { Self.add(hash: reply.array ?? [], minute: minute, to: &traffic) }
            for events in await events(config: config).values {
                for event in events { traffic.addEvent(event) }
            }
            return (traffic, "fleet")
        } catch {
            return (local.traffic(config: config), "node")
        }
    }

    func events(config: Int64) async -> [Int64: [KeyEvent]] {
        guard let reply = try? await client.send(["LRANGE", RedisArgument(Self.eventsKey(config: config)), "0", "-1"]) else {
            return local.recentEvents(config: config)
        }
        let decoder = JSONDecoder()
        let since = Date().timeIntervalSince1970 - 3600
        var events: [Int64: [KeyEvent]] = [:]
        for value in reply.array ?? [] {
            guard let bytes = value.bytes, let event = (try? decoder.decode(StoredKeyEvent.self, from: Data(bytes)))?.event, event.at >= since else { continue }
            events[event.keyID, default: []].append(event)
        }
        // This node's events not pushed yet.
        for (key, recent) in local.recentEvents(config: config) {
            for event in recent where !(events[key]?.contains(event) ?? false) { events[key, default: []].append(event) }
        }
        return events.mapValues { $0.sorted { $0.at < $1.at } }
    }
}
