import Synchronization

/// Per-config, per-minute counters and per-key uses, errors and cooldowns over the last hour, in ring buffers
/// that never grow with traffic. `record…` calls run on the proxy's path for every request: one lock, a
/// dictionary lookup and a few additions; memory is allocated only the first time a config or key is seen.
public final class TrafficStats: Sendable {
    public static let minutesKept = 60
    public static let eventsKeptPerKey = 16

    private final class KeyTrack {
        var minutes = [Int64](repeating: -1, count: TrafficStats.minutesKept)
        var uses = [UInt32](repeating: 0, count: TrafficStats.minutesKept)
        var errors = [UInt32](repeating: 0, count: TrafficStats.minutesKept)
        var pushedUses = [UInt32](repeating: 0, count: TrafficStats.minutesKept)
        var pushedErrors = [UInt32](repeating: 0, count: TrafficStats.minutesKept)
        var events: [KeyEvent] = []
        var unpushedEvents: [KeyEvent] = []
        var lastMinute: Int64 = 0

        func slot(_ minute: Int64) -> Int {
            let slot = Int(minute % Int64(TrafficStats.minutesKept))
            if minutes[slot] != minute {
                minutes[slot] = minute
                uses[slot] = 0
                errors[slot] = 0
                pushedUses[slot] = 0
                pushedErrors[slot] = 0
            }
            lastMinute = minute
            return slot
        }

        func amendLatestRejection(_ change: (inout KeyEvent) -> Void) {
            guard let index = events.lastIndex(where: { $0.kind == .quarantined }) else { return }
            let original = events[index]
            change(&events[index])
            if let pending = unpushedEvents.lastIndex(of: original) { unpushedEvents[pending] = events[index] }
        }

        func remember(_ event: KeyEvent) {
            events.append(event)
            if events.count > TrafficStats.eventsKeptPerKey { events.removeFirst() }
            unpushedEvents.append(event)
            if unpushedEvents.count > TrafficStats.eventsKeptPerKey { unpushedEvents.removeFirst() }
        }
    }

    private final class ConfigTrack {
        var minutes = [Int64](repeating: -1, count: TrafficStats.minutesKept)
        var counters = [MinuteCounters](repeating: MinuteCounters(), count: TrafficStats.minutesKept)
        var pushed = [MinuteCounters](repeating: MinuteCounters(), count: TrafficStats.minutesKept)
        var keys: [Int64: KeyTrack] = [:]
        var lastMinute: Int64 = 0

        func slot(_ minute: Int64) -> Int {
            let slot = Int(minute % Int64(TrafficStats.minutesKept))
            if minutes[slot] != minute {
                minutes[slot] = minute
                counters[slot] = MinuteCounters()
                pushed[slot] = MinuteCounters()
            }
            lastMinute = minute
            return slot
        }

        func key(_ id: Int64) -> KeyTrack {
            if let track = keys[id] { return track }
            let track = KeyTrack()
            keys[id] = track
            return track
        }
    }

    private let configs = Mutex<[Int64: ConfigTrack]>([:])
    private let clock: @Sendable () -> Double

    /// - Parameter clock: unix seconds (tests move it).
    public init(clock: @escaping @Sendable () -> Double) {
        self.clock = clock
    }

    // MARK: Recording (the proxy's path)

    /// A client request answered with `status`, after `addedNanoseconds` spent in this node (total time minus
    /// the time the upstream took to answer).
    public func recordRequest(config: Int64, status: Int, addedNanoseconds: Int64) {
        let minute = Int64(clock() / 60)
        let bucket = LatencyHistogram.bucket(nanoseconds: addedNanoseconds)
        withConfig(config) { track in
            let slot = track.slot(minute)
            track.counters[slot].requests += 1
            if status >= 400 { track.counters[slot].clientErrors += 1 }
            track.counters[slot].latency[bucket] &+= 1
        }
    }

    /// A key was handed to an upstream attempt.
    public func recordKeyUse(config: Int64, key: Int64) {
        let minute = Int64(clock() / 60)
        withConfig(config) { track in
            let keyTrack = track.key(key)
            keyTrack.uses[keyTrack.slot(minute)] &+= 1
        }
    }

    /// A connect error, timeout, 5xx or broken answer from the upstream.
    public func recordUpstreamFailure(config: Int64, key: Int64) {
        let minute = Int64(clock() / 60)
        withConfig(config) { track in
            track.counters[track.slot(minute)].upstreamErrors += 1
            let keyTrack = track.key(key)
            keyTrack.errors[keyTrack.slot(minute)] &+= 1
        }
    }

    /// A 429: the key cools for `seconds`, as the provider's reset hint said or by the default.
    public func recordRateLimit(config: Int64, key: Int64, seconds: Double, source: KeyEvent.CooldownSource) {
        let now = clock()
        let minute = Int64(now / 60)
        let event = KeyEvent(kind: .rateLimited, keyID: key, at: now, until: now + seconds, source: source, status: 429)
        withConfig(config) { track in
            track.counters[track.slot(minute)].rateLimited += 1
            let keyTrack = track.key(key)
            keyTrack.errors[keyTrack.slot(minute)] &+= 1
            keyTrack.remember(event)
        }
    }

    /// The key's credit or quota is gone (`insufficient_quota` and the like): it rests for `seconds`.
    public func recordQuotaExhausted(config: Int64, key: Int64, status: Int, seconds: Double, message: String?) {
        let now = clock()
        let minute = Int64(now / 60)
        let event = KeyEvent(kind: .quotaExhausted, keyID: key, at: now, until: now + seconds, status: status, message: message)
        withConfig(config) { track in
            let keyTrack = track.key(key)
            keyTrack.errors[keyTrack.slot(minute)] &+= 1
            keyTrack.remember(event)
        }
    }

    /// A 401/403: quarantined until `quarantinedUntil`, or invalid when `invalidated`. `message` is already scrubbed.
    public func recordRejection(config: Int64, key: Int64, status: Int, message: String?, quarantinedUntil: Double?, invalidated: Bool) {
        let now = clock()
        let minute = Int64(now / 60)
        let event = KeyEvent(kind: invalidated ? .invalidated : .quarantined, keyID: key, at: now, until: invalidated ? nil : quarantinedUntil,
                             status: status, message: message)
        withConfig(config) { track in
            let keyTrack = track.key(key)
            keyTrack.errors[keyTrack.slot(minute)] &+= 1
            keyTrack.remember(event)
        }
    }

    /// The coordinator's verdict on the key's latest rejection, which it gives after the rejection was recorded:
    /// quarantined until `quarantinedUntil`, or invalid.
    public func amendRejection(config: Int64, key: Int64, quarantinedUntil: Double?, invalidated: Bool) {
        withConfig(config) { track in
            track.key(key).amendLatestRejection { event in
                event.until = invalidated ? nil : quarantinedUntil
                if invalidated { event.kind = .invalidated }
            }
        }
    }

    private func withConfig(_ id: Int64, _ body: (ConfigTrack) -> Void) {
        configs.withLock { configs in
            if let track = configs[id] {
                body(track)
            } else {
                let track = ConfigTrack()
                configs[id] = track
                body(track)
            }
        }
    }

    // MARK: Reading (admin, pusher)

    /// This node's last hour of one config.
    public func traffic(config: Int64) -> ConfigTraffic {
        let now = clock()
        let minute = Int64(now / 60)
        var traffic = ConfigTraffic(configID: config, endingAt: minute)
        configs.withLock { configs in
            guard let track = configs[config] else { return }
            for slot in 0..<Self.minutesKept where traffic.index(of: track.minutes[slot]) != nil {
                traffic.add(track.counters[slot], minute: track.minutes[slot])
            }
            for (id, keyTrack) in track.keys {
                for slot in 0..<Self.minutesKept where traffic.index(of: keyTrack.minutes[slot]) != nil {
                    traffic.addKey(id, minute: keyTrack.minutes[slot], uses: Int64(keyTrack.uses[slot]), errors: Int64(keyTrack.errors[slot]))
                }
                for event in keyTrack.events where event.at >= now - Double(Self.minutesKept * 60) { traffic.addEvent(event) }
            }
        }
        return traffic
    }

    /// Each key's events of the last hour, oldest first (for "why is this key out of rotation").
    public func recentEvents(config: Int64) -> [Int64: [KeyEvent]] {
        let since = clock() - Double(Self.minutesKept * 60)
        return configs.withLock { configs in
            guard let track = configs[config] else { return [:] }
            var events: [Int64: [KeyEvent]] = [:]
            for (id, keyTrack) in track.keys where !keyTrack.events.isEmpty {
                events[id] = keyTrack.events.filter { $0.at >= since }
            }
            return events
        }
    }

    /// Counts and events added since the last call, for minutes still within `recentMinutes`; marks them pushed.
    /// Also forgets configs and keys idle for more than an hour.
    public func drainUnpushed(recentMinutes: Int64 = 5) -> (deltas: [TrafficDelta], events: [(config: Int64, event: KeyEvent)]) {
        let minute = Int64(clock() / 60)
        return configs.withLock { configs in
            var deltas: [TrafficDelta] = []
            var events: [(config: Int64, event: KeyEvent)] = []
            for (id, track) in configs {
                if track.lastMinute < minute - Int64(Self.minutesKept) && track.keys.values.allSatisfy({ $0.lastMinute < minute - Int64(Self.minutesKept) }) {
                    configs[id] = nil
                    continue
                }
                var byMinute: [Int64: TrafficDelta] = [:]
                for slot in 0..<Self.minutesKept where track.minutes[slot] >= minute - recentMinutes {
                    let difference = track.counters[slot].subtracting(track.pushed[slot])
                    track.pushed[slot] = track.counters[slot]
                    if !difference.isEmpty {
                        byMinute[track.minutes[slot]] = TrafficDelta(configID: id, minute: track.minutes[slot], counters: difference, keys: [])
                    }
                }
                for (keyID, keyTrack) in track.keys {
                    if keyTrack.lastMinute < minute - Int64(Self.minutesKept) {
                        track.keys[keyID] = nil
                        continue
                    }
                    for slot in 0..<Self.minutesKept where keyTrack.minutes[slot] >= minute - recentMinutes {
                        let uses = Int64(keyTrack.uses[slot]) - Int64(keyTrack.pushedUses[slot])
                        let errors = Int64(keyTrack.errors[slot]) - Int64(keyTrack.pushedErrors[slot])
                        keyTrack.pushedUses[slot] = keyTrack.uses[slot]
                        keyTrack.pushedErrors[slot] = keyTrack.errors[slot]
                        guard uses != 0 || errors != 0 else { continue }
                        let slotMinute = keyTrack.minutes[slot]
                        byMinute[slotMinute, default: TrafficDelta(configID: id, minute: slotMinute, counters: MinuteCounters(), keys: [])]
                            .keys.append((keyID, uses, errors))
                    }
                    events += keyTrack.unpushedEvents.map { (id, $0) }
                    keyTrack.unpushedEvents.removeAll()
                }
                deltas += byMinute.values.map { delta in
                    var sorted = delta
                    sorted.keys.sort { $0.id < $1.id }
                    return sorted
                }
            }
            deltas.sort { ($0.configID, $0.minute) < ($1.configID, $1.minute) }
            return (deltas, events)
        }
    }
}
