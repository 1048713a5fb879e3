/// What the relay needs of the catalog: the pools it serves, read on every request without I/O, and the two things a
/// request may ask for (re-read one config the coordinator knows is newer; mark a key the upstream keeps rejecting
/// invalid). It never edits configs. `ConfigCatalog` is the node's implementation; the relay's channel tests serve a
/// fixed set of pools, with no store or database behind them.
public protocol ServingPools: AnyObject, Sendable {
    func pool(slug: String) -> ServingPool?
    func pool(configID: Int64) -> ServingPool?
    /// True once every config has been loaded at least once; until then the relay answers 503.
    var isLoaded: Bool { get }
    /// Whether the store answered the last periodic check.
    var storeReachable: Bool { get }
    /// Re-reads one config from the store (the coordinator knows keys the cache does not).
    func refresh(configID: Int64) async throws
    /// Marks a key the upstream keeps rejecting invalid, everywhere.
    func invalidateKey(id keyID: Int64, configID: Int64, reason: String) async
}

extension ConfigCatalog: ServingPools {}
