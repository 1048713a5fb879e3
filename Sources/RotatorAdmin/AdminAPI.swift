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

/// The admin JSON API: login, configs, keys. Reads go to the store; writes go through `ConfigEditor`, so
/// the cache, the coordinator and (in enterprise mode) the other nodes follow.
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

    public init(
        store: any ConfigStore, catalog: ConfigCatalog, coordinator: any KeyCoordinator, settings: AdminSettings,
        tokens: AdminTokens, loginLimiter: any LoginAttemptLimiter = InMemoryLoginAttemptLimiter(), flushUsage: @escaping @Sendable () async -> Void,
        clusterNodes: @escaping @Sendable () async -> [ClusterNode],
        trafficSource: AdminTrafficSource = .node(TrafficStats(clock: { Date().timeIntervalSince1970 })),
        probe: KeyProbe? = nil
    ) {
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

    public var routes: [AdminRoute] {
        [
            AdminRoute(method: .post, path: "/admin/login", requiresToken: false, maxBodyBytes: Self.loginBodyLimit, handler: login),
            AdminRoute(method: .post, path: "/admin/logout", requiresToken: true, handler: logout),
            AdminRoute(method: .get, path: "/admin/app-config", requiresToken: false, handler: appConfig),
            AdminRoute(method: .get, path: "/admin/openapi.json", requiresToken: true, handler: openAPIDocument),
            AdminRoute(method: .get, path: "/admin/proxy-configs", requiresToken: true, handler: listConfigs),
            AdminRoute(method: .post, path: "/admin/proxy-configs", requiresToken: true, handler: createConfig),
            AdminRoute(method: .get, path: "/admin/proxy-configs/{id}", requiresToken: true, handler: getConfig),
            AdminRoute(method: .put, path: "/admin/proxy-configs/{id}", requiresToken: true, handler: updateConfig),
            AdminRoute(method: .delete, path: "/admin/proxy-configs/{id}", requiresToken: true, handler: deleteConfig),
            AdminRoute(method: .put, path: "/admin/proxy-configs/{id}/status", requiresToken: true, handler: setConfigStatus),
            AdminRoute(method: .get, path: "/admin/proxy-configs/{id}/keys", requiresToken: true, handler: listKeys),
            AdminRoute(method: .post, path: "/admin/proxy-configs/{id}/keys", requiresToken: true, handler: addKey),
            AdminRoute(method: .delete, path: "/admin/proxy-configs/{id}/keys", requiresToken: true, handler: deleteKeys),
            AdminRoute(method: .post, path: "/admin/proxy-configs/{id}/keys/batch", requiresToken: true, handler: addKeys),
            AdminRoute(method: .patch, path: "/admin/keys/{id}", requiresToken: true, handler: setKeyStatus),
            AdminRoute(method: .delete, path: "/admin/keys/{id}", requiresToken: true, handler: deleteKey),
            AdminRoute(method: .get, path: "/admin/cluster", requiresToken: true, handler: cluster),
            AdminRoute(method: .get, path: "/admin/proxy-configs/{id}/traffic", requiresToken: true, handler: configTraffic),
            AdminRoute(method: .get, path: "/admin/proxy-configs/{id}/keys/export", requiresToken: true, handler: exportKeys),
            AdminRoute(method: .post, path: "/admin/keys/{id}/check", requiresToken: true, handler: checkKey),
            AdminRoute(method: .get, path: "/admin/audit-log", requiresToken: true, handler: auditLog),
        ]
    }

    /// Methods a client may try on an admin path; those a path does not declare answer 405 with `Allow`.
    static let probedMethods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options, .trace] + [
        HTTPRequest.Method("QUERY")!,
    ]

    public func register(on router: Router<RotatorRequestContext>) {
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
        for route in routes {
            let handler = route.handler
            let bodyLimit = route.maxBodyBytes
            if route.requiresToken {
                let tokens = self.tokens
                router.on(RouterPath(route.routerPath), method: route.method) { request, context in
                    // Nothing of the body is read before the token is checked: a refused request costs its head.
                    var context = context
                    context.adminUser = try await Self.authenticate(request, tokens: tokens)
                    context.maxUploadSize = bodyLimit
                    return try await handler(request, context)
                }
            } else {
                router.on(RouterPath(route.routerPath), method: route.method) { request, context in
                    var context = context
                    context.maxUploadSize = bodyLimit
                    return try await handler(request, context)
                }
            }
        }
    }

    /// The user the token names; throws 401 without a valid token.
    static func authenticate(_ request: Request, tokens: AdminTokens) async throws -> String {
        try await verifiedToken(request, tokens: tokens).subject
    }

    static func verifiedToken(_ request: Request, tokens: AdminTokens) async throws -> AdminTokens.Verified {
        guard let header = request.headers[.authorization], header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw APIError(.unauthorized, "missing token: send 'Authorization: Bearer <access_token>' from POST /admin/login",
                           headers: [.wwwAuthenticate: "Bearer"])
        }
        guard let token = await tokens.verified(String(header.dropFirst(7))) else {
            throw APIError(.unauthorized, "invalid, expired or ended token: log in again", headers: [.wwwAuthenticate: "Bearer"])
        }
        return token
    }

    // MARK: Login

    /// A login is a user name and a password: 4 KiB is plenty, and nobody without a password can make the node
    /// hold more.
    static let loginBodyLimit = 4 * 1024

    private struct LoginInput: Decodable {
        var username: String
        var password: String
    }

    private struct LoginOutput: Encodable {
        var access_token: String
        var token_type = "bearer"
    }

    private func login(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let address = settings.clientAddresses.clientAddress(
            peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: Self.forwardedFor]
        )
        let input = try await AdminJSON.decode(LoginInput.self, from: request, context: context)
        // Counted before the password is compared: concurrent guesses cannot all pass one check.
        switch await loginLimiter.admit(address: address, username: input.username) {
        case .throttled(let wait):
            let seconds = max(Int(wait.rounded(.up)), 1)
            throw APIError(.tooManyRequests, "too many failed logins from this address; retry after \(seconds) s", headers: [.retryAfter: String(seconds)])
        case .slowed(let delay):
            // The user name is under attack from elsewhere: every attempt waits a little, the right password still gets in.
            try await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
        case .allowed:
            break
        }
        // Both comparisons always run, so timing does not tell which one failed.
        let userMatches = ConstantTime.equals(input.username, settings.username)
        let passwordMatches = ConstantTime.equals(input.password, settings.password)
        guard userMatches && passwordMatches else {
            context.logger.notice("admin login failed", metadata: ["client": .string(address)])
            await audit(context, "login.failed", target: "session", actor: String(input.username.prefix(64)))
            throw APIError.unauthorized("wrong username or password")
        }
        await loginLimiter.succeeded(address: address, username: input.username)
        await audit(context, "login", target: "session", actor: input.username)
        return JSONBody.response(LoginOutput(access_token: try await tokens.issue(subject: input.username)))
    }

    private static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    /// Ends the token the request carries, on every node (the revocation list is shared through Redis in
    /// enterprise mode); other tokens of the same user stay valid.
    private func logout(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let token = try await Self.verifiedToken(request, tokens: tokens)
        await tokens.revoke(token)
        await audit(context, "logout", target: "session", actor: token.subject)
        return Response(status: .noContent)
    }

    private func appConfig(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        JSONBody.response(["proxy_public_base_url": settings.publicBaseURL])
    }

    private func openAPIDocument(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.data)))
    }

    private func cluster(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        JSONBody.response(await clusterNodes().map(ClusterNodeView.init))
    }

    // MARK: Configs

    private func listConfigs(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        await flushUsage()
        let configs = try await storeCall { try await store.listConfigs() }
        var views: [ProxyConfigView] = []
        for config in configs {
            views.append(try await configView(config))
        }
        return JSONBody.response(views)
    }

    private func getConfig(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        await flushUsage()
        let config = try await existingConfig(context)
        return JSONBody.response(try await configView(config))
    }

    private func createConfig(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let input = try await AdminJSON.decode(ProxyConfigInput.self, from: request, context: context)
        let draft = try validated { try input.draft(over: nil) }
        let config = try await storeCall { try await editor.createConfig(draft) }
        await audit(context, "config.create", target: "config:\(config.id)", after: ProxyConfigView(config, keys: []))
        context.logger.info("config created", metadata: ["config_id": "\(config.id)", "slug": .string(config.slug)])
        return JSONBody.response(ProxyConfigView(config, keys: []), status: .created)
    }

    private func updateConfig(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let current = try await existingConfig(context)
        let input = try await AdminJSON.decode(ProxyConfigInput.self, from: request, context: context)
        let draft = try validated { try input.draft(over: current) }
        guard let config = try await storeCall({ try await editor.updateConfig(id: current.id, with: draft) }) else {
            throw APIError.notFound("no proxy config with id \(current.id)")
        }
        await audit(context, "config.update", target: "config:\(config.id)", before: ProxyConfigView(current, keys: []), after: ProxyConfigView(config, keys: []))
        return JSONBody.response(try await configView(config))
    }

    private struct StatusInput: Decodable {
        var is_active: Bool
    }

    private func setConfigStatus(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let input = try await AdminJSON.decode(StatusInput.self, from: request, context: context)
        guard let config = try await storeCall({ try await editor.setConfigActive(id: id, isActive: input.is_active) }) else {
            throw APIError.notFound("no proxy config with id \(id)")
        }
        await audit(context, "config.status", target: "config:\(id)", before: ["is_active": !input.is_active], after: ["is_active": input.is_active])
        return JSONBody.response(try await configView(config))
    }

    private func deleteConfig(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let before = try await storeCall { try await store.config(id: id) }
        let keyCount = try await storeCall { try await store.keys(configID: id).count }
        guard try await storeCall({ try await editor.deleteConfig(id: id) }) else {
            throw APIError.notFound("no proxy config with id \(id)")
        }
        await audit(context, "config.delete", target: "config:\(id)", before: before.map { DeletedConfigSummary(config: ProxyConfigView($0, keys: []), key_count: keyCount) })
        return JSONBody.response(DeletedOutput(id: id, deleted: 1))
    }

    // MARK: Keys

    private struct KeyInput: Decodable {
        var key_value: String
        var is_active: Bool?
    }

    private struct BatchInput: Decodable {
        var keys: [String]
    }

    private struct DeletedOutput: Encodable {
        var id: Int64
        var deleted: Int
    }

    private func listKeys(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        await flushUsage()
        let config = try await existingConfig(context)
        return JSONBody.response(try await keyViews(configID: config.id))
    }

    private func addKey(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let config = try await existingConfig(context)
        let input = try await AdminJSON.decode(KeyInput.self, from: request, context: context)
        // The document's KeyInput: taken as it is, under the one rule every import applies.
        let secret = input.key_value
        if let rejection = KeySecretPolicy.rejection(of: secret) { throw APIError.unprocessable("field 'key_value' \(rejection.requirement)") }
        let record = try await storeCall { try await editor.addKey(configID: config.id, secret: secret, isActive: input.is_active ?? true) }
        await audit(context, "key.add", target: "key:\(record.id)", after: KeyView(record, runtime: nil))
        return JSONBody.response(KeyView(record, runtime: nil), status: .created)
    }

    private func addKeys(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let config = try await existingConfig(context)
        let input = try await AdminJSON.decode(BatchInput.self, from: request, context: context)
        guard input.keys.count <= 100_000 else { throw APIError.unprocessable("field 'keys' holds at most 100000 keys per call") }
        if let tooLong = input.keys.firstIndex(where: { $0.unicodeScalars.count > KeySecretPolicy.maximumLength }) {
            throw APIError.unprocessable("field 'keys[\(tooLong)]' is longer than \(KeySecretPolicy.maximumLength) characters")
        }
        let result = try await storeCall { try await editor.addKeys(configID: config.id, secrets: input.keys) }
        let checks = try Self.wantsCheck(request) ? await checkImported(input.keys, config: config) : nil
        await audit(context, "keys.import", target: "config:\(config.id)", after: ImportSummary(result, checks: checks))
        context.logger.info("keys imported", metadata: [
            "config_id": "\(config.id)", "added": "\(result.successCount)", "skipped": "\(result.skippedCount)", "failed": "\(result.failedCount)",
        ])
        return JSONBody.response(ImportReport(result: result, checks: checks))
    }

    private func deleteKeys(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let config = try await existingConfig(context)
        let before = try await storeCall { try await store.keys(configID: config.id) }
        let count = try await storeCall { try await editor.deleteKeys(configID: config.id) }
        await audit(context, "keys.clear", target: "config:\(config.id)", before: ClearedKeys(count: before.count, keys: before.prefix(100).map(\.maskedValue)))
        return JSONBody.response(DeletedOutput(id: config.id, deleted: count))
    }

    private func setKeyStatus(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let input = try await AdminJSON.decode(StatusInput.self, from: request, context: context)
        let before = try await storeCall { try await store.key(id: id) }
        guard let record = try await storeCall({ try await editor.setKeyActive(id: id, isActive: input.is_active) }) else {
            throw APIError.notFound("no key with id \(id)")
        }
        await audit(context, input.is_active ? "key.enable" : "key.disable", target: "key:\(id)",
                    before: before.map(KeyStateSummary.init), after: KeyStateSummary(record))
        let runtime = await coordinator.runtimeStates(pool: record.proxyConfigID)[id]
        let events = await trafficSource.events(record.proxyConfigID)[id] ?? []
        return JSONBody.response(KeyView(record, runtime: runtime, events: events))
    }

    private func deleteKey(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        guard let record = try await storeCall({ try await editor.deleteKey(id: id) }) else {
            throw APIError.notFound("no key with id \(id)")
        }
        await audit(context, "key.delete", target: "key:\(id)", before: KeyView(record, runtime: nil))
        return JSONBody.response(DeletedOutput(id: id, deleted: 1))
    }

    // MARK: Helpers

    /// A config with its keys and, when the pool rests as a whole, until when and why.
    private func configView(_ config: ProxyConfig) async throws -> ProxyConfigView {
        ProxyConfigView(config, keys: try await keyViews(configID: config.id), poolCooling: await coordinator.poolCooling(pool: config.id))
    }

    func keyViews(configID: Int64) async throws -> [KeyView] {
        let records = try await storeCall { try await store.keys(configID: configID) }
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
        guard let config = try await storeCall({ try await store.config(id: id) }) else {
            throw APIError.notFound("no proxy config with id \(id)")
        }
        return config
    }

    static func id(_ context: RotatorRequestContext) throws -> Int64 {
        let raw = context.parameters.get("id") ?? ""
        guard let id = Int64(raw), id > 0 else { throw APIError.notFound("'\(raw.prefix(40))' is not an id: ids are positive integers") }
        return id
    }

    private func validated<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ValidationError {
            throw error.isConflict ? APIError.conflict(error.message) : APIError.unprocessable(error.message)
        }
    }

    /// Store failures as HTTP answers: conflicts 409, missing 404, an unreachable database 503.
    func storeCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            switch error {
            case .conflict(let message): throw APIError.conflict(message)
            case .notFound(let message): throw APIError.notFound(message)
            case .unavailable(let message):
                throw APIError.unavailable("the database is unavailable, nothing was changed; retry shortly (\(message))")
            case .corrupt(let message): throw APIError(.internalServerError, message)
            }
        }
    }
}
