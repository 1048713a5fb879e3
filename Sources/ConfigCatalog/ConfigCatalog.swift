import ClientAccess
import KeyCoordination
import Logging
import Metrics
import RotatorCore
import RotatorStore
import Synchronization

/// The node's in-memory view of every config and its usable keys. The proxy reads it without touching the
/// store. Writes reach it through `ConfigEditor` (this node) or `apply(_:)` (another node's message); the
/// periodic `reloadIfStale` repairs what a lost message left behind, one config at a time.
public final class ConfigCatalog: Sendable {
    private struct Entries {
        var bySlug: [String: ServingPool] = [:]
        var slugByID: [Int64: String] = [:]
        /// The store's global version when this node last made sure every config matched it.
        var checkedVersion: Int64 = -1
        var isLoaded = false
        /// Outcome of the last store round trip made by a reload or a version check.
        var storeReachable = true
        /// Keys the coordinator took out as invalid whose mark did not reach the store yet, by key id.
        var pendingInvalidations: [Int64: PendingInvalidation] = [:]
        /// Every client key (revoked tombstones included) by id: what `clientKeys` was last given.
        var clientKeys: [Int64: ClientKey] = [:]
        /// The store's client-keys version this node holds every change up to (-1: not loaded).
        var clientKeysVersion: Int64 = -1
    }

    struct PendingInvalidation: Sendable {
        var configID: Int64
        var reason: String
    }

    /// What the serial queue coalesces on.
    enum Job: Hashable, Sendable {
        case everything
        case config(Int64)
        case removal(Int64)
        case versionCheck
        case clientKey(Int64)
    }

    public let store: any ConfigStore
    let coordinator: any KeyCoordinator
    let publisher: any ConfigChangePublisher
    let logger: Logger
    /// The client keys the relay identifies secrets by; filled on load and on every client-key change (nil: the node
    /// serves operator keys only).
    public let clientKeys: ClientKeyRegistry?
    private let entries = Mutex(Entries())
    private let jobs = CoalescingSerialQueue<Job>()
    private let undecryptableGauge: Gauge
    private let fullReloads: Counter
    private let configReloads: Counter

    public init(
        store: any ConfigStore, coordinator: any KeyCoordinator,
        publisher: any ConfigChangePublisher = LocalOnlyChangePublisher(), clientKeys: ClientKeyRegistry? = nil, logger: Logger,
        metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        self.store = store
        self.clientKeys = clientKeys
        self.coordinator = coordinator
        self.publisher = publisher
        self.logger = logger
        self.undecryptableGauge = Gauge(label: "rotator_keys_undecryptable", factory: metricsFactory)
        self.fullReloads = Counter(label: "rotator_catalog_full_reloads_total", factory: metricsFactory)
        self.configReloads = Counter(label: "rotator_catalog_config_reloads_total", factory: metricsFactory)
        undecryptableGauge.record(0)
    }

    // MARK: Reading (hot path: one lock, no I/O)

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

    /// Whether the store answered the last periodic check: health probes read this instead of waiting on a
    /// store that may be hanging.
    public var storeReachable: Bool {
        entries.withLock { $0.storeReachable }
    }

    /// Why a key is out of rotation as invalid while the store does not say so yet (its mark failed to reach
    /// the store and is being retried); nil for any other key.
    public func pendingInvalidation(keyID: Int64) -> String? {
        entries.withLock { $0.pendingInvalidations[keyID]?.reason }
    }

    // MARK: Loading

    /// Loads every config from the store, replacing the cache in one step. Concurrent calls share one load.
    public func reloadAll() async throws {
        try await jobs.run(coalescing: .everything) { [self] in
            let version = try await store.globalVersion()
            try await loadAllClientKeys()
            var pools: [ServingPool] = []
            for config in try await store.listConfigs() {
                guard let snapshot = try await store.servingSnapshot(configID: config.id) else { continue }
                pools.append(servingPool(snapshot))
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
                entries.checkedVersion = version
                entries.isLoaded = true
                return Array(previous.subtracting(entries.slugByID.keys))
            }
            for id in removed { await coordinator.removePool(id: id) }
            fullReloads.increment()
            updateUndecryptableGauge()
            logger.debug("config catalog loaded", metadata: ["configs": .stringConvertible(pools.count)])
        }
    }

    /// Reloads one config (after a write). Concurrent requests for one config share one reload.
    public func refresh(configID: Int64) async throws {
        try await jobs.run(coalescing: .config(configID)) { [self] in
            try await load(configID: configID)
        }
    }

    /// Another node's message.
    public func apply(_ message: ConfigChangeMessage) async throws {
        switch message {
        case .changed(let id, let version):
            if let version, let cached = pool(configID: id)?.config.version, cached >= version {
                return  // This node made the change (or already saw it).
            }
            try await refresh(configID: id)
        case .removed(let id):
            // No store read: the writer has committed the delete, and a store that is down must not delay it.
            try await jobs.run(coalescing: .removal(id)) { [self] in
                await drop(configID: id)
            }
        case .clientKeyChanged(let id, let version):
            guard clientKeys != nil else { return }
            if let version, version <= entries.withLock({ $0.clientKeysVersion }) { return }  // made or seen here
            try await jobs.run(coalescing: .clientKey(id)) { [self] in
                try await loadClientKey(id: id, announcedVersion: version)
            }
        }
    }

    /// The periodic check. When the store's global version moved since the last check (a write on any node,
    /// or an edit made in the database), compares each config's version with the cached one and reloads only
    /// the configs that differ; configs gone from the store are dropped. Also retries invalid marks that
    /// failed to reach the store.
    public func reloadIfStale() async throws {
        let current: Int64
        do {
            current = try await store.globalVersion()
            entries.withLock { $0.storeReachable = true }
        } catch {
            entries.withLock { $0.storeReachable = false }
            throw error
        }
        await retryPendingInvalidations()
        guard current != entries.withLock({ $0.checkedVersion }) else { return }
        try await jobs.run(coalescing: .versionCheck) { [self] in
            let versions = try await store.configVersions()
            let cached: [Int64: Int64] = entries.withLock { entries in
                entries.slugByID.compactMapValues { entries.bySlug[$0]?.config.version }
            }
            for (id, version) in versions.sorted(by: { $0.key < $1.key }) where cached[id] != version {
                try await load(configID: id)
            }
            for id in cached.keys where versions[id] == nil {
                await drop(configID: id)
            }
            if clientKeys != nil, try await store.clientKeysVersion() != entries.withLock({ $0.clientKeysVersion }) {
                try await loadAllClientKeys()
            }
            entries.withLock { $0.checkedVersion = max($0.checkedVersion, current) }
        }
    }

    /// Refuses new loads and waits for the ones queued: called at shutdown, before the store closes.
    public func close() async {
        await jobs.close()
    }

    // MARK: Writes from this node (see `ConfigEditor`)

    /// After a committed write to a config or its keys: refresh this node, then tell the others.
    /// A failed refresh is logged, not thrown: the write itself has succeeded, and the periodic check repairs it.
    func commitChange(configID: Int64) async {
        var version: Int64?
        do {
            try await refresh(configID: configID)
            version = pool(configID: configID)?.config.version
        } catch {
            logger.warning("cache refresh after write failed", metadata: ["config_id": "\(configID)", "error": "\(error)"])
        }
        // Without a version the others reload unconditionally.
        await publisher.publish(version.map { .changed(configID: configID, version: $0) } ?? .changed(configID: configID, version: nil))
    }

    /// After a committed write to a client key: read it here, then tell the others. As `commitChange`, a failed read is
    /// logged (the periodic check repairs it) and the others are told anyway.
    func commitClientKeyChange(id: Int64) async {
        var version: Int64?
        do {
            let current = try await store.clientKeysVersion()
            try await jobs.run(coalescing: nil) { [self] in
                try await loadClientKey(id: id, announcedVersion: current)
            }
            version = current
        } catch {
            logger.warning("client key refresh after write failed", metadata: ["client_key_id": "\(id)", "error": "\(error)"])
        }
        await publisher.publish(.clientKeyChanged(id: id, version: version))
    }

    /// After a committed delete of a config: drop it here and on every other node, without a store read.
    func commitRemoval(configID: Int64) async {
        try? await jobs.run(coalescing: .removal(configID)) { [self] in
            await drop(configID: configID)
        }
        await publisher.publish(.removed(configID: configID))
    }

    /// The proxy's answer to a key the upstream keeps rejecting: mark it invalid everywhere. The coordinator
    /// has already taken it out; if the store cannot take the mark now, the mark is kept, shown to admins as
    /// invalid, and retried on every periodic check.
    public func invalidateKey(id keyID: Int64, configID: Int64, reason: String) async {
        do {
            try await markInvalid(keyID: keyID, reason: reason)
            logger.warning("key marked invalid", metadata: ["config_id": "\(configID)", "key_id": "\(keyID)", "reason": "\(reason)"])
        } catch {
            entries.withLock { $0.pendingInvalidations[keyID] = PendingInvalidation(configID: configID, reason: reason) }
            logger.error("could not mark key invalid in the store; retrying on every version check", metadata: [
                "config_id": "\(configID)", "key_id": "\(keyID)", "error": "\(error)",
            ])
            return
        }
        await commitChange(configID: configID)
    }

    /// An admin decided about the key (enabled, disabled, deleted it): a pending mark must not overrule that.
    /// Returns whether a mark was pending.
    func forgetPendingInvalidation(keyID: Int64) -> Bool {
        entries.withLock { $0.pendingInvalidations.removeValue(forKey: keyID) != nil }
    }

    func retryPendingInvalidations() async {
        let pending = entries.withLock { $0.pendingInvalidations }
        for (keyID, mark) in pending.sorted(by: { $0.key < $1.key }) {
            do {
                try await markInvalid(keyID: keyID, reason: mark.reason)
            } catch {
                return  // the store is still unreachable: next check
            }
            let stillPending = entries.withLock { $0.pendingInvalidations.removeValue(forKey: keyID) != nil }
            logger.notice("pending invalid mark reached the store", metadata: ["config_id": "\(mark.configID)", "key_id": "\(keyID)"])
            if stillPending { await commitChange(configID: mark.configID) }
        }
    }

    /// Puts a key back into rotation with a clean slate in the coordinator (an admin re-enabled it): the
    /// coordinator keeps a key it judged invalid out for as long as the store lists it, so the pool is synced
    /// once without the key, then with it.
    func resetInCoordinator(keyID: Int64, configID: Int64) async {
        guard let pool = pool(configID: configID) else { return }
        var without = poolDefinition(pool)
        without.keyIDs.removeAll { $0 == keyID }
        await coordinator.syncPool(without)
        await syncCoordinator(with: pool)
    }

    // MARK: Internals (run inside a queued job)

    private func markInvalid(keyID: Int64, reason: String) async throws {
        try await jobs.run(coalescing: nil) { [self] in
            _ = try await store.markKeyInvalid(id: keyID, reason: reason)
        }
    }

    private func load(configID: Int64) async throws {
        configReloads.increment()
        guard let snapshot = try await store.servingSnapshot(configID: configID) else {
            await drop(configID: configID)
            return
        }
        let pool = servingPool(snapshot)
        await syncCoordinator(with: pool)
        entries.withLock { entries in
            if let oldSlug = entries.slugByID[configID] { entries.bySlug[oldSlug] = nil }
            entries.bySlug[pool.config.slug] = pool
            entries.slugByID[configID] = pool.config.slug
        }
        updateUndecryptableGauge()
    }

    /// Every client key, and the version they are at (read first: a write in between makes the next check reload again).
    private func loadAllClientKeys() async throws {
        guard let clientKeys else { return }
        let version = try await store.clientKeysVersion()
        let keys = try await store.allClientKeys()
        entries.withLock { entries in
            entries.clientKeys = Dictionary(uniqueKeysWithValues: keys.map { ($0.id, $0) })
            entries.clientKeysVersion = version
        }
        clientKeys.replace(with: keys)
    }

    /// One client key as the store holds it now (a revoked one as its tombstone). The node's version moves to
    /// `announcedVersion` only when that is the next one: a gap (a message lost) is left for the periodic check.
    private func loadClientKey(id: Int64, announcedVersion: Int64?) async throws {
        guard let clientKeys else { return }
        let key = try await store.clientKey(id: id)
        let all = entries.withLock { entries -> [ClientKey] in
            entries.clientKeys[id] = key
            if let announcedVersion, announcedVersion == entries.clientKeysVersion + 1 { entries.clientKeysVersion = announcedVersion }
            return Array(entries.clientKeys.values)
        }
        clientKeys.replace(with: all)
    }

    private func drop(configID: Int64) async {
        let wasCached = entries.withLock { entries -> Bool in
            guard let oldSlug = entries.slugByID.removeValue(forKey: configID) else { return false }
            entries.bySlug[oldSlug] = nil
            entries.pendingInvalidations = entries.pendingInvalidations.filter { $0.value.configID != configID }
            return true
        }
        // Also when it was not cached: another node's pool state in Redis must go with the config.
        await coordinator.removePool(id: configID)
        if wasCached { updateUndecryptableGauge() }
    }

    private func servingPool(_ snapshot: ServingSnapshot) -> ServingPool {
        if !snapshot.undecryptableKeyIDs.isEmpty {
            logger.error("keys cannot be decrypted and are left out of rotation (altered, moved or encrypted with another ENCRYPTION_KEY)", metadata: [
                "config_id": "\(snapshot.config.id)", "slug": .string(snapshot.config.slug),
                "key_ids": "\(snapshot.undecryptableKeyIDs.map(String.init).joined(separator: ","))",
            ])
        }
        return ServingPool(config: snapshot.config, keys: snapshot.keys, undecryptableKeyIDs: snapshot.undecryptableKeyIDs)
    }

    private func updateUndecryptableGauge() {
        let count = entries.withLock { $0.bySlug.values.reduce(0) { $0 + $1.undecryptableKeyIDs.count } }
        undecryptableGauge.record(count)
    }

    private func poolDefinition(_ pool: ServingPool) -> PoolDefinition {
        PoolDefinition(
            id: pool.config.id, keyIDs: pool.secrets.keys.sorted(), pacingInterval: pool.config.keyPacingInterval,
            version: pool.config.version
        )
    }

    private func syncCoordinator(with pool: ServingPool) async {
        await coordinator.syncPool(poolDefinition(pool))
    }
}
