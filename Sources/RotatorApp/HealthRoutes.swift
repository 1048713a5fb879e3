import ConfigCatalog
import Hummingbird
import RotatorHTTP


/// `/healthz`: the process answers, with `degraded` details. `/readyz`: the catalog is loaded and, on one node
/// with its own SQLite file, the store answers. An enterprise node stays ready through later MySQL or Redis
/// blips (it serves from its cache). Neither probe waits on the store: they report the last periodic check,
/// so a hanging database cannot make a probe time out.
struct HealthRoutes: Sendable {
    let catalog: ConfigCatalog
    let mode: String
    /// Lightweight mode: a node whose local store fails is not ready.
    let readinessNeedsStore: Bool
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
        let catalog = self.catalog
        let degradation = self.degradation
        @Sendable func problems() -> [String: String] {
            var details = degradation()
            if !catalog.storeReachable { details["store"] = "unreachable: serving from cache, admin writes answer 503" }
            return details
        }
        router.get("/healthz") { _, _ in
            let details = problems()
            return JSONBody.response(Health(status: "ok", mode: mode, degraded: !details.isEmpty, details: details))
        }
        let readinessNeedsStore = self.readinessNeedsStore
        router.get("/readyz") { _, _ in
            let ready = catalog.isLoaded && (!readinessNeedsStore || catalog.storeReachable)
            let problems = problems()
            var details = problems
            details["config_cache"] = ready ? "loaded" : "not loaded"
            details["store"] = details["store"] ?? "ok"
            return JSONBody.response(
                Health(status: ready ? "ready" : "not ready", mode: mode, degraded: !problems.isEmpty, details: details),
                status: ready ? .ok : .serviceUnavailable
            )
        }
    }
}
