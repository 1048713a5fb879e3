import KeyCoordination
import Logging
import RotatorCore
import RotatorStore
import ServiceLifecycle
import Synchronization

/// Moves per-key usage counters from the coordinator to the store every few seconds, and once more at
/// shutdown (`flushAtShutdown`, called by `NodeTeardown` after the server has drained and before the store
/// and Redis close). Counters the store could not take are kept and retried, so a database blip loses nothing.
public final class UsageFlusher: Service, Sendable {
    private let coordinator: any KeyCoordinator
    private let store: any ConfigStore
    private let interval: Duration
    private let logger: Logger
    private let pending = Mutex<[Int64: KeyUsageDelta]>([:])

    public init(coordinator: any KeyCoordinator, store: any ConfigStore, interval: Duration = .seconds(5), logger: Logger) {
        self.coordinator = coordinator
        self.store = store
        self.interval = interval
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
        await flush()
        let lost = pending.withLock { pending in
            defer { pending.removeAll() }
            return pending.values.reduce(0) { $0 + $1.requests }
        }
        if lost > 0 {
            logger.error("usage counters could not be written at shutdown", metadata: ["requests": "\(lost)"])
        }
    }

    public func flush() async {
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
