import ClientAccess
import ConfigCatalog
import Foundation
import HTTPTypes
import Hummingbird
import KeyCoordination
import Logging
import NIOCore
import RotatorCore
import RotatorHTTP
import RotatorStore
import TrafficStats

/// The admin JSON API: one route collection per resource (the session, configs, their keys, keys, the audit log, the
/// cluster), behind one token check as group middleware, store errors mapped once (`AdminErrorMiddleware`). Reads go to
/// the store; writes go through `ConfigEditor`, so the cache, the coordinator and (in enterprise mode) the other nodes follow.
public struct AdminAPI: Sendable {
    let store: any ConfigStore
    let catalog: ConfigCatalog
    let editor: ConfigEditor
    let coordinator: any KeyCoordinator
    let settings: AdminSettings
    let tokens: AdminTokens
    let loginLimiter: any LoginAttemptLimiter
    /// Called before key counters are read, so they include usage not yet flushed to the store.
    let flushUsage: @Sendable () async -> Void
    /// The nodes currently alive (this one alone in lightweight mode).
    let clusterNodes: @Sendable () async -> [ClusterNode]
    /// Charts and key events: this node's, or the fleet's.
    let trafficSource: AdminTrafficSource
    /// "Check now" and the check at import; nil where no HTTP client is at hand (checks then answer 503).
    let probe: KeyProbe?
    /// Each client key's live counts beside its limits in the client-key answers; nil: no `usage` in them.
    let clientQuota: (any ClientQuota)?
    /// Client keys' names by id, for the usage report (the node sets it from its client-key registry).
    public var clientKeyNames: @Sendable () async -> [Int64: String] = { [:] }

    public init(
        store: any ConfigStore, catalog: ConfigCatalog, coordinator: any KeyCoordinator, settings: AdminSettings,
        tokens: AdminTokens, loginLimiter: any LoginAttemptLimiter = InMemoryLoginAttemptLimiter(), flushUsage: @escaping @Sendable () async -> Void,
        clusterNodes: @escaping @Sendable () async -> [ClusterNode],
        trafficSource: AdminTrafficSource = .node(TrafficStats(clock: { Date().timeIntervalSince1970 })),
        probe: KeyProbe? = nil, clientQuota: (any ClientQuota)? = nil
    ) {
        self.clientQuota = clientQuota
        self.trafficSource = trafficSource
        self.probe = probe
        self.store = store
        self.catalog = catalog
        self.editor = ConfigEditor(catalog: catalog)
        self.coordinator = coordinator
        self.settings = settings
        self.tokens = tokens
        self.loginLimiter = loginLimiter
        self.flushUsage = flushUsage
        self.clusterNodes = clusterNodes
    }

    /// Every resource, in the order their routes are listed.
    var resources: [AdminResource] {
        [sessionResource, configResource, configKeysResource, keyResource, clientKeyResource, clusterResource, auditResource, usageResource]
    }

    /// Every route, with its full path: what registration adds and the OpenAPI check walks.
    public var routes: [AdminRoute] { resources.flatMap(\.routes) }

    /// Methods a client may try on an admin path; those a path does not declare answer 405 with `Allow`.
    static let probedMethods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options, .trace] + [
        HTTPRequest.Method("QUERY")!,
    ]

    public func register(on router: Router<RotatorRequestContext>) {
        registerMethodsNotAllowed(on: router)
        let admin = router.group().add(middleware: AdminErrorMiddleware())
        let authenticated = admin.group().add(middleware: AdminAuthMiddleware(tokens: tokens))
        for resource in resources {
            admin.addRoutes(resource.collection(requiringToken: false), atPath: RouterPath(AdminRoute.routerSyntax(resource.path)))
            authenticated.addRoutes(resource.collection(requiringToken: true), atPath: RouterPath(AdminRoute.routerSyntax(resource.path)))
        }
    }

    /// A method a path does not declare answers 405 naming those it does, token or not (the path itself is public:
    /// it is in the OpenAPI document).
    private func registerMethodsNotAllowed(on router: Router<RotatorRequestContext>) {
        var declared: [String: [HTTPRequest.Method]] = [:]
        var pathOrder: [String] = []
        for route in routes {
            if declared[route.routerPath] == nil { pathOrder.append(route.routerPath) }
            declared[route.routerPath, default: []].append(route.method)
        }
        for path in pathOrder {
            let methods = declared[path] ?? []
            let allow = methods.map(\.rawValue).joined(separator: ", ")
            for method in Self.probedMethods where !methods.contains(method) {
                router.on(RouterPath(path), method: method) { _, _ -> Response in
                    throw APIError(.methodNotAllowed, "\(method.rawValue) is not allowed here; use \(allow)", headers: [.allow: allow])
                }
            }
        }
    }

    // MARK: Shared lookups

    /// A config with its keys and, when the pool rests as a whole, until when and why.
    func configView(_ config: ProxyConfig) async throws -> ProxyConfigView {
        ProxyConfigView(config, keys: try await keyViews(configID: config.id), poolCooling: await coordinator.poolCooling(pool: config.id))
    }

    func keyViews(configID: Int64) async throws -> [KeyView] {
        let records = try await store.keys(configID: configID)
        let runtime = await coordinator.runtimeStates(pool: configID)
        let undecryptable = Set(catalog.pool(configID: configID)?.undecryptableKeyIDs ?? [])
        let events = await trafficSource.events(configID)
        let now = Date()
        return records.map { record in
            KeyView(
                record, runtime: runtime[record.id], pendingInvalidReason: catalog.pendingInvalidation(keyID: record.id),
                isUndecryptable: undecryptable.contains(record.id), events: events[record.id] ?? [], now: now
            )
        }
    }

    func existingConfig(_ context: RotatorRequestContext) async throws -> ProxyConfig {
        let id = try Self.id(context)
        guard let config = try await store.config(id: id) else {
            throw APIError.notFound("no proxy config with id \(id)")
        }
        return config
    }

    static func id(_ context: RotatorRequestContext) throws -> Int64 {
        let raw = context.parameters.get("id") ?? ""
        guard let id = Int64(raw), id > 0 else { throw APIError.notFound("'\(raw.prefix(40))' is not an id: ids are positive integers") }
        return id
    }
}
