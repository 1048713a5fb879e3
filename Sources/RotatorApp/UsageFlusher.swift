import KeyCoordination
import Logging
import RotatorCore
import RotatorStore
import ServiceLifecycle
import Synchronization

/// Moves per-key usage counters from the coordinator, and the usage ledger's rows from the proxy's `UsageLedger`, to
/// the store every `USAGE_FLUSH_SECONDS`, and once more at shutdown (`flushAtShutdown`, called by `NodeTeardown` after
/// the server has drained and before the store and Redis close). Each flush is one transaction per kind (an upsert per
/// ledger row that adds), never a write per request. Counters the store could not take are kept and retried, so a
/// database blip loses nothing.
public final class UsageFlusher: Service, Sendable {
    private let coordinator: any KeyCoordinator
    private let store: any ConfigStore
    private let interval: Duration
    private let logger: Logger
    private let pending = Mutex<[Int64: KeyUsageDelta]>([:])
    private let ledger: UsageLedger?
    private let pendingRows = Mutex<[UsageRowKey: UsageCounts]>([:])
    private let afterFlush: @Sendable () -> Void
    /// Enterprise mode: the ledger's deltas go to Redis every interval, and a node holding the lease moves them on.
    private let redisCounters: RedisUsageCounters?

    /// - Parameters:
    ///   - ledger: the proxy's usage rows, written to the store when it keeps a ledger (`UsageLedgerStore`).
    ///   - afterFlush: run after every flush (the proxy's client-key label rebalance).
    public init(
        coordinator: any KeyCoordinator, store: any ConfigStore, interval: Duration = .seconds(5), ledger: UsageLedger? = nil,
        afterFlush: @escaping @Sendable () -> Void = {}, redisCounters: RedisUsageCounters? = nil, logger: Logger
    ) {
        self.redisCounters = redisCounters
        self.coordinator = coordinator
        self.store = store
        self.interval = interval
        self.ledger = ledger
        self.afterFlush = afterFlush
        self.logger = logger
    }

    public func run() async throws {
        let interval = self.interval
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            // At shutdown requests may still be in flight: the last flush waits for the teardown.
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            await flush()
        }
    }

    /// The last flush: what the store cannot take now is lost, so it says how much.
    public func flushAtShutdown() async {
        // This node's own rows straight to the store (Redis holds only other nodes' now), then one more move.
        await flushKeyUsage()
        await flushLedger(throughRedis: false)
        let lost = pending.withLock { pending in
            defer { pending.removeAll() }
            return pending.values.reduce(0) { $0 + $1.requests }
        }
        let lostRows = pendingRows.withLock { rows in
            defer { rows.removeAll() }
            return rows.values.reduce(0) { $0 + $1.requests }
        }
        if lost > 0 || lostRows > 0 {
            logger.error("usage counters could not be written at shutdown", metadata: ["requests": "\(lost)", "ledger_requests": "\(lostRows)"])
        }
    }

    public func flush() async {
        await flushKeyUsage()
        await flushLedger(throughRedis: true)
        afterFlush()
    }

    private func flushLedger(throughRedis: Bool) async {
        guard let ledger, let ledgerStore = store as? any UsageLedgerStore else { return }
        let drained = ledger.drain()
        let batch: [UsageRowKey: UsageCounts] = pendingRows.withLock { rows in
            for (key, counts) in drained { rows[key, default: UsageCounts()].add(counts) }
            defer { rows.removeAll() }
            return rows
        }
        if let redisCounters {
            await moveFleetTotals(redisCounters, to: ledgerStore, pushing: throughRedis ? batch : [:])
            if throughRedis { return }
        }
        guard !batch.isEmpty else { return }
        do {
            try await ledgerStore.addUsage(batch)
        } catch {
            pendingRows.withLock { rows in
                for (key, counts) in batch { rows[key, default: UsageCounts()].add(counts) }
            }
            logger.warning("usage ledger flush failed; will retry", metadata: ["error": "\(error)", "rows": "\(batch.count)"])
        }
    }

    /// Pushes this node's deltas to Redis (kept for the next try if Redis fails), then moves the fleet's totals into the
    /// store if no other node holds the lease.
    private func moveFleetTotals(_ counters: RedisUsageCounters, to ledgerStore: any UsageLedgerStore, pushing batch: [UsageRowKey: UsageCounts]) async {
        do {
            try await counters.push(batch)
        } catch {
            pendingRows.withLock { rows in
                for (key, counts) in batch { rows[key, default: UsageCounts()].add(counts) }
            }
            logger.warning("usage ledger push to Redis failed; will retry", metadata: ["error": "\(error)", "rows": "\(batch.count)"])
            return
        }
        do {
            // The lease outlives one move by far; it is released as soon as the move ends.
            _ = try await counters.moveToStore(ledgerStore, leaseMilliseconds: max(30_000, Int64(interval.components.seconds) * 3_000))
        } catch {
            logger.warning("moving the fleet's usage counters to the store failed; the next move retries", metadata: ["error": "\(error)"])
        }
    }

    private func flushKeyUsage() async {
        let drained = await coordinator.drainUsage()
        let batch: [KeyUsageDelta] = pending.withLock { pending in
            for delta in drained { pending[delta.keyID, default: KeyUsageDelta(keyID: delta.keyID)].merge(delta) }
            let batch = Array(pending.values)
            pending.removeAll()
            return batch
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.recordUsage(batch)
        } catch {
            pending.withLock { pending in
                for delta in batch { pending[delta.keyID, default: KeyUsageDelta(keyID: delta.keyID)].merge(delta) }
            }
            logger.warning("usage flush failed; will retry", metadata: ["error": "\(error)"])
        }
    }
}
