import ClientAccess
import Foundation
import Hummingbird
import RotatorCore
import RotatorHTTP
import RotatorStore

/// `/admin/client-keys`: the keys the operator gives teams and apps. The secret is answered whole once, by the create
/// and by a rotation; every other answer and the audit log show its hint. Writes go through `ConfigEditor`, so every
/// node's registry follows (a revoked or disabled key is refused everywhere at once).
extension AdminAPI {
    var clientKeyResource: AdminResource {
        AdminResource("/admin/client-keys", [
            AdminRoute(.get, handler: listClientKeys),
            AdminRoute(.post, handler: createClientKey),
            AdminRoute(.get, "/{id}", handler: getClientKey),
            AdminRoute(.put, "/{id}", handler: updateClientKey),
            AdminRoute(.delete, "/{id}", handler: revokeClientKey),
            AdminRoute(.post, "/{id}/rotate", handler: rotateClientKey),
        ])
    }

    private func listClientKeys(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        func number(_ name: String, _ range: ClosedRange<Int>, default value: Int) throws -> Int {
            guard let raw = query[Substring(name)] else { return value }
            guard let number = Int(String(raw)), range.contains(number) else {
                throw APIError.unprocessable("query '\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        let page = try number("page", 1...1_000_000, default: 1)
        let perPage = try number("per_page", 1...500, default: 50)
        let search = query["search"].map(String.init)
        if let search, search.unicodeScalars.count > 200 { throw APIError.unprocessable("query 'search' must be at most 200 characters") }
        let found = try await store.clientKeys(page: page, perPage: perPage, search: search)
        let now = Date()
        let totals = await ledgerTotals(of: found.keys.map(\.id), now: now)
        var items: [ClientKeyView] = []
        items.reserveCapacity(found.keys.count)
        for key in found.keys {
            items.append(ClientKeyView(key, now: now, usage: await usage(of: key, ledger: totals?[key.id])))
        }
        return JSONBody.response(ClientKeyPageView(items: items, page: page, per_page: perPage, total: found.total))
    }

    private func getClientKey(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let key = try await liveClientKey(context)
        return JSONBody.response(ClientKeyView(key, usage: await usage(of: key)))
    }

    private func createClientKey(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let input = try await AdminJSON.decode(ClientKeyInput.self, from: request, context: context)
        let draft = try input.draft(over: nil, knownSlugs: try await configSlugs())
        let issued = try await editor.createClientKey(draft)
        await audit(context, "client_key.create", target: "client_key:\(issued.key.id)", after: ClientKeyView(issued.key))
        context.logger.info("client key created", metadata: ["client_key_id": "\(issued.key.id)"])
        return JSONBody.response(ClientKeyView(issued.key, secret: issued.secret), status: .created)
    }

    private func updateClientKey(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let current = try await liveClientKey(context)
        let input = try await AdminJSON.decode(ClientKeyInput.self, from: request, context: context)
        let draft = try input.draft(over: current, knownSlugs: try await configSlugs())
        guard let key = try await editor.updateClientKey(id: current.id, with: draft) else { throw Self.noClientKey(current.id) }
        await audit(context, "client_key.update", target: "client_key:\(key.id)", before: ClientKeyView(current), after: ClientKeyView(key))
        return JSONBody.response(ClientKeyView(key, usage: await usage(of: key)))
    }

    private func revokeClientKey(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        guard let key = try await editor.revokeClientKey(id: id) else { throw Self.noClientKey(id) }
        await audit(context, "client_key.revoke", target: "client_key:\(id)", before: ClientKeyView(key))
        context.logger.info("client key revoked", metadata: ["client_key_id": "\(id)"])
        return Response(status: .noContent)
    }

    private func rotateClientKey(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let input = try await AdminJSON.decode(RotateInput.self, from: request, context: context, whenEmpty: RotateInput())
        let grace = input.grace_seconds ?? 0
        guard let issued = try await editor.rotateClientKey(id: id, graceSeconds: grace) else { throw Self.noClientKey(id) }
        await audit(context, "client_key.rotate", target: "client_key:\(id)", after: RotationSummary(grace_seconds: grace, key: ClientKeyView(issued.key)))
        return JSONBody.response(ClientKeyView(issued.key, secret: issued.secret))
    }

    // MARK: Helpers

    private func liveClientKey(_ context: RotatorRequestContext) async throws -> ClientKey {
        let id = try Self.id(context)
        guard let key = try await store.clientKey(id: id), key.revokedAt == nil else { throw Self.noClientKey(id) }
        return key
    }

    private static func noClientKey(_ id: Int64) -> APIError {
        APIError.notFound("no client key with id \(id)")
    }

    private func configSlugs() async throws -> Set<String> {
        Set(try await store.listConfigs().map(\.slug))
    }

    /// Today's and this month's totals of each of `ids` from the usage ledger (as of its last flush), in one query; nil
    /// when the store keeps no ledger or cannot be read.
    private func ledgerTotals(of ids: [Int64], now: Date) async -> [Int64: (today: UsageCounts, month: UsageCounts)]? {
        guard let ledger = store as? any UsageLedgerStore else { return nil }
        let day = UsageRowKey.day(secondsSince1970: now.timeIntervalSince1970)
        guard let sums = try? await ledger.usageByClientKeyAndDay(fromDay: UsageRowKey.firstDayOfMonth(day), toDay: day, clientKeyIDs: ids) else {
            return nil
        }
        var totals: [Int64: (today: UsageCounts, month: UsageCounts)] = Dictionary(uniqueKeysWithValues: ids.map { ($0, (UsageCounts(), UsageCounts())) })
        for sum in sums {
            totals[sum.clientKeyID]?.month.add(sum.counts)
            if sum.day == day { totals[sum.clientKeyID]?.today.add(sum.counts) }
        }
        return totals
    }

    /// Each configured limit's live state from the quota, and today's and this month's totals from the usage ledger;
    /// nil (no `usage` in the answer) when neither is at hand.
    private func usage(of key: ClientKey) async -> ClientKeyUsageView? {
        await usage(of: key, ledger: await ledgerTotals(of: [key.id], now: Date())?[key.id])
    }

    private func usage(of key: ClientKey, ledger: (today: UsageCounts, month: UsageCounts)?) async -> ClientKeyUsageView? {
        let states = await clientQuota?.states(clientKey: key.id, limits: key.limits)
        let today = ledger.map { UsageTotalsView($0.today) }
        let month = ledger.map { UsageTotalsView($0.month) }
        guard states != nil || today != nil else { return nil }
        return ClientKeyUsageView(limits: states.map { $0.map(LimitStateView.init) }, today: today, month: month)
    }
}

/// A client key as every answer shows it (`ClientKey` in the OpenAPI document): `key` is the hint, except in the
/// answers that issue a secret.
struct ClientKeyView: Encodable, Sendable {
    var id: Int64
    var name: String
    @ExplicitNull var note: String?
    var enabled: Bool
    @ExplicitNull var expires_at: String?
    @ExplicitNull var allowed_configs: [String]?
    @ExplicitNull var allowed_models: [String]?
    @ExplicitNull var rpm: Int64?
    @ExplicitNull var tpm: Int64?
    @ExplicitNull var max_concurrent: Int64?
    @ExplicitNull var daily_requests: Int64?
    @ExplicitNull var monthly_requests: Int64?
    @ExplicitNull var daily_tokens: Int64?
    @ExplicitNull var monthly_tokens: Int64?
    var key: String
    var status: String
    @ExplicitNull var previous_key_valid_until: String?
    var created_at: String
    var updated_at: String
    /// Left out when no quota is wired.
    var usage: ClientKeyUsageView?

    init(_ clientKey: ClientKey, secret: String? = nil, now: Date = Date(), usage: ClientKeyUsageView? = nil) {
        id = clientKey.id
        name = clientKey.name
        note = clientKey.note
        enabled = clientKey.enabled
        expires_at = Timestamp.string(clientKey.expiresAt)
        allowed_configs = clientKey.allowedConfigs
        allowed_models = clientKey.allowedModels?.map(\.description)
        let limits = clientKey.limits
        rpm = limits.rpm
        tpm = limits.tpm
        max_concurrent = limits.maxConcurrent
        daily_requests = limits.dailyRequests
        monthly_requests = limits.monthlyRequests
        daily_tokens = limits.dailyTokens
        monthly_tokens = limits.monthlyTokens
        key = secret ?? clientKey.secretHint
        if !clientKey.enabled {
            status = "disabled"
        } else if let expiresAt = clientKey.expiresAt, expiresAt <= now {
            status = "expired"
        } else {
            status = "active"
        }
        // Only while the rotated-out secret is still accepted.
        previous_key_valid_until = clientKey.previousSecretHash == nil ? nil
            : clientKey.previousSecretValidUntil.flatMap { $0 > now ? Timestamp.string($0) : nil }
        created_at = Timestamp.string(clientKey.createdAt)
        updated_at = Timestamp.string(clientKey.updatedAt)
        self.usage = usage
    }
}

struct ClientKeyUsageView: Encodable, Sendable {
    /// Live, from the quota (absent when none is wired).
    var limits: [LimitStateView]?
    /// From the usage ledger, as of its last flush (`USAGE_FLUSH_SECONDS`).
    var today: UsageTotalsView?
    var month: UsageTotalsView?
}

/// A client key's totals over a UTC day or month.
struct UsageTotalsView: Encodable, Sendable {
    var requests: Int64
    var errors: Int64
    var input_tokens: Int64
    var output_tokens: Int64
    var cached_tokens: Int64

    init(_ counts: UsageCounts) {
        requests = counts.requests
        errors = counts.totalErrors
        input_tokens = counts.inputTokens
        output_tokens = counts.outputTokens
        cached_tokens = counts.cachedTokens
    }
}

struct LimitStateView: Encodable, Sendable {
    var limit: String
    var value: Int64
    var used: Int64
    var remaining: Int64
    var reset_seconds: Double

    init(_ state: LimitState) {
        limit = state.limit.rawValue
        value = state.value
        used = max(0, state.value - state.remaining)
        remaining = state.remaining
        reset_seconds = state.resetSeconds
    }
}

struct ClientKeyPageView: Encodable, Sendable {
    var items: [ClientKeyView]
    var page: Int
    var per_page: Int
    var total: Int
}

/// What the audit log keeps of a rotation: the grace and the key, masked.
struct RotationSummary: Encodable {
    var grace_seconds: Int64
    var key: ClientKeyView
}
