import KeyCoordination
import Logging
import RotatorCore
import RotatorStore
import Synchronization

/// The node's in-memory view of every config and its usable keys. The proxy reads it without touching the
/// store; every admin write goes through `commitChange`, which reloads the entry, re-syncs the coordinator's
/// pool and tells the other nodes.
public final class ConfigCatalog: Sendable {
    private struct Entries {
        var bySlug: [String: ServingPool] = [:]
        var slugByID: [Int64: String] = [:]
        var loadedVersion: Int64 = -1
        var isLoaded = false
        /// Outcome of the last store round trip made by a reload or a version check.
        var storeReachable = true
    }

    public let store: any ConfigStore
    private let coordinator: any KeyCoordinator
    private let publisher: any ConfigChangePublisher
    private let logger: Logger
    private let entries = Mutex(Entries())
    private let refreshes = AsyncSerialQueue()

    public init(
        store: any ConfigStore, coordinator: any KeyCoordinator,
        publisher: any ConfigChangePublisher = LocalOnlyChangePublisher(), logger: Logger
    ) {
        self.store = store
        self.coordinator = coordinator
        self.publisher = publisher
        self.logger = logger
    }

    /// The hot-path lookup: one lock, no I/O.
    public func pool(slug: String) -> ServingPool? {
        entries.withLock { $0.bySlug[slug] }
    }

    public func pool(configID: Int64) -> ServingPool? {
        entries.withLock { entries in entries.slugByID[configID].flatMap { entries.bySlug[$0] } }
    }

    /// True once the whole catalog has been loaded at least once (readiness).
    public var isLoaded: Bool {
        entries.withLock { $0.isLoaded }
    }

    /// Loads every config from the store, replacing the cache in one step.
    public func reloadAll() async throws {
        try await refreshes.run { [self] in
            let version = try await store.globalVersion()
            var pools: [ServingPool] = []
            for config in try await store.listConfigs() {
                guard let snapshot = try await store.servingSnapshot(configID: config.id) else { continue }
                pools.append(ServingPool(config: snapshot.config, keys: snapshot.keys))
            }
            for pool in pools { await syncCoordinator(with: pool) }
            let removed: [Int64] = entries.withLock { entries in
                let previous = Set(entries.slugByID.keys)
                entries.bySlug = [:]
                entries.slugByID = [:]
                for pool in pools {
                    entries.bySlug[pool.config.slug] = pool
                    entries.slugByID[pool.config.id] = pool.config.slug
                }
                entries.loadedVersion = version
                entries.isLoaded = true
                return Array(previous.subtracting(entries.slugByID.keys))
            }
            for id in removed { await coordinator.removePool(id: id) }
            logger.debug("config catalog loaded", metadata: ["configs": .stringConvertible(pools.count)])
        }
    }

    /// Reloads one config (after a local write or another node's message).
    public func refresh(configID: Int64) async throws {
        try await refreshes.run { [self] in
            let snapshot = try await store.servingSnapshot(configID: configID)
            if let snapshot {
                let pool = ServingPool(config: snapshot.config, keys: snapshot.keys)
                await syncCoordinator(with: pool)
                entries.withLock { entries in
                    if let oldSlug = entries.slugByID[configID] { entries.bySlug[oldSlug] = nil }
                    entries.bySlug[pool.config.slug] = pool
                    entries.slugByID[configID] = pool.config.slug
                }
            } else {
                entries.withLock { entries in
                    if let oldSlug = entries.slugByID.removeValue(forKey: configID) { entries.bySlug[oldSlug] = nil }
                }
                await coordinator.removePool(id: configID)
            }
        }
    }

    /// Reloads everything when the store changed behind this node's back (a missed message, another tool).
    public func reloadIfStale() async throws {
        let current: Int64
        do {
            current = try await store.globalVersion()
            entries.withLock { $0.storeReachable = true }
        } catch {
            entries.withLock { $0.storeReachable = false }
            throw error
        }
        let loaded = entries.withLock { $0.loadedVersion }
        if current != loaded { try await reloadAll() }
    }

    /// Whether the store answered the last periodic check: health probes read this instead of waiting on a
    /// store that may be hanging.
    public var storeReachable: Bool {
        entries.withLock { $0.storeReachable }
    }

    /// Called after every committed admin write: refresh this node, then tell the others.
    /// A failed refresh is logged, not thrown: the write itself has succeeded, and the periodic check repairs it.
    public func commitChange(configID: Int64) async {
        do {
            try await refresh(configID: configID)
        } catch {
            logger.warning("cache refresh after write failed", metadata: ["config_id": "\(configID)", "error": "\(error)"])
        }
        let version = pool(configID: configID)?.config.version ?? 0
        await publisher.publishChange(configID: configID, version: version)
    }

    /// The proxy's answer to a key the upstream keeps rejecting: mark it invalid everywhere.
    public func invalidateKey(id keyID: Int64, configID: Int64, reason: String) async {
        do {
            _ = try await store.markKeyInvalid(id: keyID, reason: reason)
            logger.warning("key marked invalid", metadata: ["config_id": "\(configID)", "key_id": "\(keyID)", "reason": "\(reason)"])
        } catch {
            logger.error("could not mark key invalid", metadata: ["key_id": "\(keyID)", "error": "\(error)"])
        }
        await commitChange(configID: configID)
    }

    private func syncCoordinator(with pool: ServingPool) async {
        await coordinator.syncPool(
            PoolDefinition(
                id: pool.config.id, keyIDs: pool.secrets.keys.sorted(), pacingInterval: pool.config.keyPacingInterval,
                version: pool.config.version
            )
        )
    }
}
