import Synchronization

/// The class of a client-visible error, as the usage ledger counts it: a small fixed set, decided by the answer's
/// status alone (`UsageErrorClass(status:)`).
///
/// - `rate_limited`: 429 (the pool's keys all resting, the upstream's rate limit passed on, a client key's limit).
/// - `refused`: 401 and 403 (a wrong or revoked credential, a config or model the key may not use).
/// - `client_error`: any other 4xx (malformed requests, too large, unknown paths).
/// - `timeout`: 408 and 504 (the client or the upstream too slow).
/// - `upstream`: any other 5xx (the upstream failing, an answer the relay could not check).
///
/// 1xx-3xx answers are not errors; neither is a client that left before any answer (499 in the access log).
public enum UsageErrorClass: String, Sendable, CaseIterable, Codable {
    case rateLimited = "rate_limited"
    case refused
    case clientError = "client_error"
    case timeout
    case upstream

    public init?(status: Int) {
        switch status {
        case 429: self = .rateLimited
        case 401, 403: self = .refused
        case 408, 504: self = .timeout
        case 400..<500 where status != 499: self = .clientError
        case 500..<600: self = .upstream
        default: return nil
        }
    }
}

/// One ledger row's identity: a UTC day, the client key (nil: an operator key of `GLOBAL_PROXY_KEYS`), the config,
/// the upstream key that served last (nil: none was reached) and the model the request named (nil: none, e.g. a
/// generic config).
public struct UsageRowKey: Sendable, Hashable {
    /// Days since 1970-01-01 (UTC).
    public var day: Int32
    public var clientKeyID: Int64?
    public var configID: Int64
    public var keyID: Int64?
    public var model: String?

    public init(day: Int32, clientKeyID: Int64?, configID: Int64, keyID: Int64?, model: String?) {
        self.day = day
        self.clientKeyID = clientKeyID
        self.configID = configID
        self.keyID = keyID
        self.model = model
    }

    /// The UTC day of a point in time given as seconds since 1970.
    public static func day(secondsSince1970 seconds: Double) -> Int32 {
        Int32((seconds / 86_400).rounded(.down))
    }

    /// `YYYY-MM-DD` of a day number.
    public static func dayString(_ day: Int32) -> String {
        let date = CivilDate(daysSince1970: Int64(day))
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year = String(date.year)
        return String(repeating: "0", count: max(0, 4 - year.count)) + year + "-\(two(date.month))-\(two(date.day))"
    }

    /// The day number of `YYYY-MM-DD`; nil for anything else (or an impossible date).
    public static func day(parsing text: String) -> Int32? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]), (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        let day = Int32(CivilDate(year: y, month: m, day: d).daysSince1970)
        return dayString(day) == text ? day : nil  // 2026-02-31 is refused
    }

    /// The day number of the first day of the month `day` falls in.
    public static func firstDayOfMonth(_ day: Int32) -> Int32 {
        Int32(CivilDate(daysSince1970: Int64(day)).firstOfMonth.daysSince1970)
    }
}

/// What one ledger row counts. Every field only ever adds.
public struct UsageCounts: Sendable, Equatable {
    public var requests: Int64 = 0
    /// Indexed by `UsageErrorClass.allCases` order.
    public var errors: [Int64] = []
    /// Upstream attempts (a request retried on another key counts each try).
    public var attempts: Int64 = 0
    public var inputTokens: Int64 = 0
    public var outputTokens: Int64 = 0
    public var cachedTokens: Int64 = 0

    public init() {}

    public init(requests: Int64, errors: [UsageErrorClass: Int64] = [:], attempts: Int64, inputTokens: Int64, outputTokens: Int64, cachedTokens: Int64) {
        self.requests = requests
        self.errors = errors.isEmpty ? [] : UsageErrorClass.allCases.map { errors[$0] ?? 0 }
        self.attempts = attempts
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedTokens = cachedTokens
    }

    public func errors(_ errorClass: UsageErrorClass) -> Int64 {
        guard !errors.isEmpty, let index = UsageErrorClass.allCases.firstIndex(of: errorClass) else { return 0 }
        return errors[index]
    }

    public var totalErrors: Int64 { errors.reduce(0, +) }

    public mutating func addError(_ errorClass: UsageErrorClass, count: Int64 = 1) {
        if errors.isEmpty { errors = Array(repeating: 0, count: UsageErrorClass.allCases.count) }
        errors[UsageErrorClass.allCases.firstIndex(of: errorClass)!] += count
    }

    public mutating func add(_ other: UsageCounts) {
        requests += other.requests
        attempts += other.attempts
        inputTokens += other.inputTokens
        outputTokens += other.outputTokens
        cachedTokens += other.cachedTokens
        for (index, count) in other.errors.enumerated() where count != 0 { addError(UsageErrorClass.allCases[index], count: count) }
    }

    /// One finished request.
    public static func request(status: Int, attempts: Int, input: Int, output: Int, cached: Int) -> UsageCounts {
        var counts = UsageCounts()
        counts.requests = 1
        counts.attempts = Int64(attempts)
        counts.inputTokens = Int64(input)
        counts.outputTokens = Int64(output)
        counts.cachedTokens = Int64(cached)
        if let errorClass = UsageErrorClass(status: status) { counts.addError(errorClass) }
        return counts
    }
}

/// The node's usage rows since the last flush. Requests add to one of a few shards chosen by their event loop, so
/// the loops never wait for each other: each shard's lock is only ever taken by its loop and, once per flush
/// interval, by `drain` (an uncontended lock costs a few nanoseconds; no task, no allocation beyond a new row's).
public final class UsageLedger: Sendable {
    private final class Shard: Sendable {
        let rows = Mutex<[UsageRowKey: UsageCounts]>([:])
    }

    private let shards: [Shard]

    public init(shards: Int = 16) {
        self.shards = (0..<max(1, shards)).map { _ in Shard() }
    }

    /// Adds one request's counts; `shard` is any stable number of the caller's thread or event loop.
    public func add(_ counts: UsageCounts, to key: UsageRowKey, shard: Int) {
        shards[abs(shard % shards.count)].rows.withLock { rows in rows[key, default: UsageCounts()].add(counts) }
    }

    /// Everything counted since the last drain, merged; the ledger starts empty again.
    public func drain() -> [UsageRowKey: UsageCounts] {
        var merged: [UsageRowKey: UsageCounts] = [:]
        for shard in shards {
            let rows = shard.rows.withLock { rows in
                defer { rows.removeAll(keepingCapacity: true) }
                return rows
            }
            for (key, counts) in rows { merged[key, default: UsageCounts()].add(counts) }
        }
        return merged
    }
}
