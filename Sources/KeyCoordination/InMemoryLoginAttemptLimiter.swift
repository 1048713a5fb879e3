import Foundation
import Synchronization

/// Login attempts counted in this process, in bounded memory: at most `maximumRecords` subjects are kept;
/// beyond that, forgotten ones go first, then unlocked ones, least recently seen first, and locked ones
/// last, so a flood of made-up addresses cannot clear a lock.
public final class InMemoryLoginAttemptLimiter: LoginAttemptLimiter {
    private let records = Mutex<[LoginSubject: LoginAttemptRecord]>([:])
    private let policy: LoginThrottlePolicy
    private let clock: any CoordinatorClock
    public let maximumRecords: Int

    public init(policy: LoginThrottlePolicy = .standard, clock: any CoordinatorClock = SystemClock(), maximumRecords: Int = 10_000) {
        self.policy = policy
        self.clock = clock
        self.maximumRecords = max(maximumRecords, 2)
    }

    public func admit(address: String, username: String) async -> LoginAdmission {
        let now = clock.now()
        let (client, user) = policy.subjects(address: address, username: username)
        return records.withLock { records in
            let admission = policy.admission(clientWait: records[client]?.wait(now: now), userWait: records[user]?.wait(now: now))
            if case .throttled = admission { return admission }
            for (subject, free) in [(client, policy.freeAttemptsPerClient), (user, policy.freeAttemptsPerUser)] {
                if records[subject] == nil, records.count >= maximumRecords { evict(&records, now: now) }
                records[subject, default: LoginAttemptRecord()].count(now: now, freeAttempts: free, policy: policy)
            }
            return admission
        }
    }

    public func succeeded(address: String, username: String) async {
        let (client, user) = policy.subjects(address: address, username: username)
        records.withLock { records in
            records[client] = nil
            records[user] = nil
        }
    }

    /// Subjects held now (for tests and metrics).
    public var recordCount: Int { records.withLock { $0.count } }

    /// Makes room for at least a tenth of the capacity, so eviction runs rarely.
    private func evict(_ records: inout [LoginSubject: LoginAttemptRecord], now: Double) {
        records = records.filter { !$0.value.isForgotten(now: now, policy: policy) }
        let target = maximumRecords - max(maximumRecords / 10, 1)
        guard records.count > target else { return }
        let oldest = records.sorted { lhs, rhs in
            let (lhsLocked, rhsLocked) = (lhs.value.wait(now: now) != nil, rhs.value.wait(now: now) != nil)
            return lhsLocked != rhsLocked ? !lhsLocked : lhs.value.lastAttempt < rhs.value.lastAttempt
        }.prefix(records.count - target)
        for (subject, _) in oldest { records[subject] = nil }
    }
}
