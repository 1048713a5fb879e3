import ConfigCatalog
import Hummingbird
import RotatorHTTP
import RotatorStore

/// `/healthz`: the process answers (with `degraded` details); `/readyz`: the store answers and the catalog is loaded.
struct HealthRoutes: Sendable {
    let store: any ConfigStore
    let catalog: ConfigCatalog
    let mode: String
    /// What shared component is unreachable right now (empty when none).
    let degradation: @Sendable () -> [String: String]

    private struct Health: Encodable {
        var status: String
        var mode: String
        var degraded: Bool
        var details: [String: String]
    }

    func register(on router: Router<RotatorRequestContext>) {
        let mode = self.mode
        let store = self.store
        let catalog = self.catalog
        let degradation = self.degradation
        router.get("/healthz") { _, _ in
            let details = degradation()
            return JSONBody.response(Health(status: "ok", mode: mode, degraded: !details.isEmpty, details: details))
        }
        router.get("/readyz") { _, _ in
            var details: [String: String] = [:]
            var ready = true
            do {
                try await store.ping()
                details["store"] = "ok"
            } catch {
                details["store"] = "unreachable"
                ready = false
            }
            // Once loaded, a node serves from its cache through store blips: it stays ready.
            details["config_cache"] = catalog.isLoaded ? "loaded" : "not loaded"
            ready = catalog.isLoaded
            let degraded = degradation()
            details.merge(degraded) { $1 }
            return JSONBody.response(
                Health(status: ready ? "ready" : "not ready", mode: mode, degraded: !degraded.isEmpty || details["store"] != "ok", details: details),
                status: ready ? .ok : .serviceUnavailable
            )
        }
    }
}
