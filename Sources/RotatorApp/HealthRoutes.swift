import ConfigCatalog
import Hummingbird
import RotatorHTTP
import RotatorStore

/// `/healthz`: the process answers (with `degraded` details); `/readyz`: the store answers and the catalog is loaded.
struct HealthRoutes: Sendable {
    let store: any ConfigStore
    let catalog: ConfigCatalog
    let mode: String

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
        router.get("/healthz") { _, _ in
            JSONBody.response(Health(status: "ok", mode: mode, degraded: false, details: [:]))
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
            details["config_cache"] = catalog.isLoaded ? "loaded" : "not loaded"
            ready = ready && catalog.isLoaded
            return JSONBody.response(
                Health(status: ready ? "ready" : "not ready", mode: mode, degraded: false, details: details),
                status: ready ? .ok : .serviceUnavailable
            )
        }
    }
}
