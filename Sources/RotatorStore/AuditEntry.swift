#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One admin action as the audit log keeps it. `before` and `after` are JSON documents of what changed, with keys
/// masked: a secret never reaches this table. `entry.actor`, `entry.action`, ... read `fields`.
@dynamicMemberLookup
public struct AuditEntry: Sendable, Equatable {
    public var id: Int64
    public var at: Date
    /// What was done, by whom, to what.
    public var fields: AuditEntryDraft

    public init(id: Int64, at: Date, fields: AuditEntryDraft) {
        self.id = id
        self.at = at
        self.fields = fields
    }

    public init(id: Int64, at: Date, actor: String, action: String, target: String, clientAddress: String, before: String?, after: String?) {
        self.init(id: id, at: at, fields: AuditEntryDraft(
            actor: actor, action: action, target: target, clientAddress: clientAddress, before: before, after: after
        ))
    }

    @inlinable
    public subscript<Value>(dynamicMember keyPath: WritableKeyPath<AuditEntryDraft, Value>) -> Value {
        get { fields[keyPath: keyPath] }
        set { fields[keyPath: keyPath] = newValue }
    }
}

/// An entry before the store gives it an id and a time.
public struct AuditEntryDraft: Sendable, Equatable {
    /// The admin's user name (the token's subject), or what was typed at a failed login.
    public var actor: String
    /// `config.create`, `key.delete`, `keys.clear`, `login.failed`, ...
    public var action: String
    /// What was acted on: `config:3`, `key:17`, `session`.
    public var target: String
    public var clientAddress: String
    public var before: String?
    public var after: String?

    public init(actor: String, action: String, target: String, clientAddress: String, before: String? = nil, after: String? = nil) {
        self.actor = actor
        self.action = action
        self.target = target
        self.clientAddress = clientAddress
        self.before = before
        self.after = after
    }
}
