import ConfigCatalog

/// The relay's serving pools for channel tests: fixed at creation, always loaded, the store always reachable; a refresh
/// finds nothing newer and an invalidation goes nowhere.
final class FixedServingPools: ServingPools {
    private let pools: [String: ServingPool]

    init(_ pools: [ServingPool]) {
        self.pools = Dictionary(uniqueKeysWithValues: pools.map { ($0.config.slug, $0) })
    }

    func pool(slug: String) -> ServingPool? { pools[slug] }
    func pool(configID: Int64) -> ServingPool? { pools.values.first { $0.config.id == configID } }
    var isLoaded: Bool { true }
    var storeReachable: Bool { true }
    func refresh(configID: Int64) async throws {}
    func invalidateKey(id keyID: Int64, configID: Int64, reason: String) async {}
}
