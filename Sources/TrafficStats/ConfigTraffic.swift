/// One config's last hour, minute by minute, oldest first: what the admin charts draw. Built from one node's
/// ring buffers, or summed from every node's buckets in Redis.
public struct ConfigTraffic: Sendable, Equatable {
    public struct KeySeries: Sendable, Equatable {
        public var keyID: Int64
        /// Uses per minute, aligned with `minutes`.
        public var uses: [Int64]
        /// Failed uses per minute (429, 401/403, 5xx, transport errors).
        public var errors: [Int64]
        /// Cooldowns, quarantines and invalidations of the last hour, oldest first.
        public var events: [KeyEvent]

        public init(keyID: Int64, count: Int) {
            self.keyID = keyID
            uses = Array(repeating: 0, count: count)
            errors = Array(repeating: 0, count: count)
            events = []
        }
    }

    public var configID: Int64
    /// Epoch minutes (unix seconds / 60), oldest first; the last one is the current minute.
    public var minutes: [Int64]
    public var counters: [MinuteCounters]
    public var keys: [Int64: KeySeries]

    /// An hour of zeros ending at `currentMinute`.
    public init(configID: Int64, endingAt currentMinute: Int64, count: Int = TrafficStats.minutesKept) {
        self.configID = configID
        minutes = (0..<count).map { currentMinute - Int64(count - 1 - $0) }
        counters = Array(repeating: MinuteCounters(), count: count)
        keys = [:]
    }

    /// The position of `minute` in the series, nil when it is outside the hour.
    public func index(of minute: Int64) -> Int? {
        guard let first = minutes.first else { return nil }
        let offset = Int(minute - first)
        return offset >= 0 && offset < minutes.count ? offset : nil
    }

    public mutating func add(_ sample: MinuteCounters, minute: Int64) {
        guard let index = index(of: minute) else { return }
        counters[index].add(sample)
    }

    public mutating func addKey(_ keyID: Int64, minute: Int64, uses: Int64, errors: Int64) {
        guard let index = index(of: minute) else { return }
        var series = keys[keyID] ?? KeySeries(keyID: keyID, count: minutes.count)
        series.uses[index] += uses
        series.errors[index] += errors
        keys[keyID] = series
    }

    public mutating func addEvent(_ event: KeyEvent) {
        var series = keys[event.keyID] ?? KeySeries(keyID: event.keyID, count: minutes.count)
        guard !series.events.contains(event) else { return }
        series.events.append(event)
        series.events.sort { $0.at < $1.at }
        if series.events.count > TrafficStats.eventsKeptPerKey { series.events.removeFirst(series.events.count - TrafficStats.eventsKeptPerKey) }
        keys[event.keyID] = series
    }
}

/// What one node counted since its last push, for the fleet-wide buckets in Redis.
public struct TrafficDelta: Sendable, Equatable {
    public var configID: Int64
    public var minute: Int64
    public var counters: MinuteCounters
    /// (key id, uses, errors) with at least one non-zero count.
    public var keys: [(id: Int64, uses: Int64, errors: Int64)]

    public static func == (lhs: TrafficDelta, rhs: TrafficDelta) -> Bool {
        lhs.configID == rhs.configID && lhs.minute == rhs.minute && lhs.counters == rhs.counters
            && lhs.keys.map(\.id) == rhs.keys.map(\.id) && lhs.keys.map(\.uses) == rhs.keys.map(\.uses)
            && lhs.keys.map(\.errors) == rhs.keys.map(\.errors)
    }
}
