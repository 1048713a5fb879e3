import Foundation
import Synchronization

/// Slows down password guessing: after `freeAttempts` failures from one address, each further attempt must
/// wait twice as long as the last (capped), and attempts during the wait get 429.
public final class LoginThrottle: Sendable {
    private struct Record {
        var failures: Int
        var lockedUntil: Date
        var lastFailure: Date
    }

    private let records = Mutex<[String: Record]>([:])
    private let freeAttempts: Int
    private let maximumLock: Double
    /// Failures older than this are forgotten.
    private let memory: Double = 900

    public init(freeAttempts: Int = 5, maximumLockSeconds: Double = 300) {
        self.freeAttempts = freeAttempts
        self.maximumLock = maximumLockSeconds
    }

    /// Seconds the address must still wait, or nil when it may try now.
    public func waitTime(for address: String, now: Date = Date()) -> Double? {
        records.withLock { records in
            guard let record = records[address], record.lockedUntil > now else { return nil }
            return record.lockedUntil.timeIntervalSince(now)
        }
    }

    public func recordFailure(for address: String, now: Date = Date()) {
        records.withLock { records in
            if records.count > 10_000 { records = records.filter { now.timeIntervalSince($0.value.lastFailure) < memory } }
            var record = records[address].flatMap { now.timeIntervalSince($0.lastFailure) < memory ? $0 : nil }
                ?? Record(failures: 0, lockedUntil: .distantPast, lastFailure: now)
            record.failures += 1
            record.lastFailure = now
            if record.failures >= freeAttempts {
                let lock = min(maximumLock, pow(2, Double(record.failures - freeAttempts)))
                record.lockedUntil = now.addingTimeInterval(lock)
            }
            records[address] = record
        }
    }

    public func recordSuccess(for address: String) {
        _ = records.withLock { $0.removeValue(forKey: address) }
    }
}
