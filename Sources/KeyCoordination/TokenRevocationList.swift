import Synchronization

/// Admin tokens ended before their expiry (`POST /admin/logout`), by token id, each kept until the token would
/// have expired anyway. Lightweight mode keeps them in memory; enterprise mode in Redis, so every node refuses a
/// token that was ended on any of them.
public protocol TokenRevocationList: Sendable {
    /// Ends token `id`; `expiresAt` (Unix seconds) is when it would have expired, after which it is forgotten.
    func revoke(id: String, expiresAt: Double) async
    func isRevoked(id: String) async -> Bool
}

/// Revoked token ids in this process. Bounded by time: each id goes once its token expires; and by count, as a
/// backstop against a flood of logouts (only a holder of a valid token can log out, one token at a time).
public final class InMemoryTokenRevocationList: TokenRevocationList {
    private let revoked = Mutex<[String: Double]>([:])
    private let clock: any CoordinatorClock
    public let maximumEntries: Int

    public init(clock: any CoordinatorClock = SystemClock(), maximumEntries: Int = 100_000) {
        self.clock = clock
        self.maximumEntries = maximumEntries
    }

    public func revoke(id: String, expiresAt: Double) async {
        let now = clock.now()
        revoked.withLock { revoked in
            if revoked.count >= maximumEntries { revoked = revoked.filter { $0.value > now } }
            // Past the bound with none expired: the oldest-expiring go first, they are the nearest to harmless.
            if revoked.count >= maximumEntries, let soonest = revoked.min(by: { $0.value < $1.value }) { revoked[soonest.key] = nil }
            revoked[id] = expiresAt
        }
    }

    public func isRevoked(id: String) async -> Bool {
        let now = clock.now()
        return revoked.withLock { ($0[id] ?? 0) > now }
    }
}
