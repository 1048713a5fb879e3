import Foundation
import Hummingbird
import RotatorCore
import RotatorHTTP
import RotatorStore

extension AdminAPI {
    var auditResource: AdminResource {
        AdminResource("/admin/audit-log", [AdminRoute(.get, handler: auditLog)])
    }

    /// Appends an admin action to the audit log: who (the token's user), what, from where, and JSON documents of
    /// the state before and after, built from admin views (keys masked: no secret can reach the log). A failed write
    /// is logged, not thrown: the action itself has already happened.
    func audit(
        _ context: RotatorRequestContext, _ action: String, target: String, actor: String? = nil,
        before: (any Encodable)? = nil, after: (any Encodable)? = nil
    ) async {
        let draft = AuditEntryDraft(
            actor: actor ?? context.adminUser ?? "unknown", action: action, target: target, clientAddress: context.clientAddress,
            before: before.flatMap(Self.auditDocument), after: after.flatMap(Self.auditDocument)
        )
        do {
            try await store.recordAudit(draft)
        } catch {
            context.logger.warning("audit log write failed", metadata: ["action": .string(action), "error": "\(error)"])
        }
    }

    static func auditDocument(_ value: any Encodable) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }

    func auditLog(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var limit = 50
        if let raw = query["limit"] {
            // A limit that is not a number is refused, not ignored: the client would read a page it did not ask for.
            guard let value = Int(String(raw)) else { throw APIError.unprocessable("query 'limit' must be a whole number from 1 to 500") }
            limit = value
        }
        guard (1...500).contains(limit) else { throw APIError.unprocessable("query 'limit' must be 1 to 500") }
        var before: Int64?
        if let raw = query["before"] {
            guard let value = Int64(String(raw)), value > 0 else { throw APIError.unprocessable("query 'before' must be an entry id") }
            before = value
        }
        // One more than asked tells whether an older page exists.
        let entries = try await store.auditEntries(before: before, limit: limit + 1)
        let page = Array(entries.prefix(limit))
        return JSONBody.response(AuditPageView(
            entries: page.map(AuditEntryView.init), next_before: entries.count > limit ? page.last?.id : nil
        ))
    }
}

struct AuditEntryView: Encodable {
    var id: Int64
    var at: String
    var actor: String
    var action: String
    var target: String
    var client_address: String
    @ExplicitNull var before: String?
    @ExplicitNull var after: String?

    init(_ entry: AuditEntry) {
        id = entry.id
        at = Timestamp.string(entry.at)
        actor = entry.actor
        action = entry.action
        target = entry.target
        client_address = entry.clientAddress
        before = entry.before
        after = entry.after
    }
}

struct AuditPageView: Encodable {
    var entries: [AuditEntryView]
    /// Pass as `before` for the next (older) page; null on the last page.
    @ExplicitNull var next_before: Int64?
}

/// Audit documents: what was there before a deletion or a change, never a secret.
struct DeletedConfigSummary: Encodable {
    var config: ProxyConfigView
    var key_count: Int
}

struct ClearedKeys: Encodable {
    var count: Int
    /// Masked values of the first 100.
    var keys: [String]
}

struct KeyStateSummary: Encodable {
    var key_value: String
    var is_active: Bool
    var is_invalid: Bool

    init(_ record: APIKeyRecord) {
        key_value = record.maskedValue
        is_active = record.isActive
        is_invalid = record.isInvalid
    }
}

struct ImportSummary: Encodable {
    var success_count: Int
    var failed_count: Int
    var skipped_count: Int
    var checked: Int?

    init(_ result: BatchImportResult, checks: [KeyCheckView]?) {
        success_count = result.successCount
        failed_count = result.failedCount
        skipped_count = result.skippedCount
        checked = checks?.count
    }
}
