import RotatorCore
import RotatorSQL
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension SQLConfigStore {
    /// Longest `before`/`after` document kept; a bigger one is cut (the log is for people, not for restores).
    static let auditDocumentLimit = 64 * 1024

    public func recordAudit(_ draft: AuditEntryDraft) async throws -> AuditEntry {
        let timestamp = now().millisecondsSince1970
        let before = draft.before.map(Self.bounded)
        let after = draft.after.map(Self.bounded)
        let actor = String(draft.actor.prefix(255)), action = String(draft.action.prefix(64))
        let target = String(draft.target.prefix(255)), address = String(draft.clientAddress.prefix(64))
        return try await perform { connection in
            let result = try connection.execute(
                "INSERT INTO audit_log (at, actor, action, target, client_address, before_json, after_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [.int(timestamp), .text(actor), .text(action), .text(target), .text(address), .optional(before), .optional(after)]
            )
            return AuditEntry(
                id: result.lastInsertID, at: Date(millisecondsSince1970: timestamp), actor: actor, action: action, target: target,
                clientAddress: address, before: before, after: after
            )
        }
    }

    public func auditEntries(before: Int64?, limit: Int) async throws -> [AuditEntry] {
        let limit = Int64(max(1, min(limit, 500)))
        return try await perform { connection in
            try connection.query(
                """
                SELECT id, at, actor, action, target, client_address, before_json, after_json FROM audit_log \
                WHERE id < ? ORDER BY id DESC LIMIT ?
                """,
                [.int(before ?? .max), .int(limit)]
            ).map { row in
                AuditEntry(
                    id: try row.int64("id"), at: Date(millisecondsSince1970: try row.int64("at")), actor: try row.string("actor"),
                    action: try row.string("action"), target: try row.string("target"), clientAddress: try row.string("client_address"),
                    before: try row.optionalString("before_json"), after: try row.optionalString("after_json")
                )
            }
        }
    }

    public func keySecret(id: Int64) async throws -> String? {
        let stored = try await perform { connection in
            try connection.queryFirst(
                "SELECT key_ciphertext, proxy_config_id, key_fingerprint FROM api_keys WHERE id = ?", [.int(id)]
            ).map { row in
                (try row.string("key_ciphertext"), KeyRowBinding(configID: try row.int64("proxy_config_id"), fingerprint: try row.string("key_fingerprint")))
            }
        }
        guard let (ciphertext, binding) = stored else { return nil }
        do {
            return try cipher.decrypt(ciphertext, for: binding)
        } catch {
            throw StoreError.corrupt("cannot decrypt key \(id): wrong ENCRYPTION_KEY?")
        }
    }

    private static func bounded(_ document: String) -> String {
        document.utf8.count <= auditDocumentLimit ? document : String(decoding: document.utf8.prefix(auditDocumentLimit), as: UTF8.self)
    }
}
