/// What one node tells the others about a config, on the invalidation channel.
///
/// Payloads: `"<id>:<version>"` (changed; the receiver reloads unless it already holds that version),
/// `"<id>"` (changed, version unknown: reload), `"<id>:removed"` (deleted: drop it, no store read needed).
/// Nodes of earlier releases read `"<id>:removed"` as "changed, version unknown" and reload, which also drops it.
/// A client key: `"client-key:<id>:<client keys version>"` (created, changed, rotated or revoked: the receiver reads that
/// one key unless it already holds that version), `"client-key:<id>"` (version unknown). Earlier releases ignore these.
public enum ConfigChangeMessage: Sendable, Equatable {
    case changed(configID: Int64, version: Int64?)
    case removed(configID: Int64)
    /// `version` is the store's client-keys version after the write (`ConfigStore.clientKeysVersion()`).
    case clientKeyChanged(id: Int64, version: Int64?)

    static let clientKeyPrefix = "client-key:"

    /// The config the message is about; nil for a client key's.
    public var configID: Int64? {
        switch self {
        case .changed(let id, _), .removed(let id): return id
        case .clientKeyChanged: return nil
        }
    }

    public var payload: String {
        switch self {
        case .changed(let id, let version?): return "\(id):\(version)"
        case .changed(let id, nil): return "\(id)"
        case .removed(let id): return "\(id):removed"
        case .clientKeyChanged(let id, let version?): return "\(Self.clientKeyPrefix)\(id):\(version)"
        case .clientKeyChanged(let id, nil): return "\(Self.clientKeyPrefix)\(id)"
        }
    }

    public init?(payload: String) {
        if payload.hasPrefix(Self.clientKeyPrefix) {
            let parts = payload.dropFirst(Self.clientKeyPrefix.count).split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let id = Int64(parts[0]), id > 0 else { return nil }
            guard parts.count == 2 else {
                self = .clientKeyChanged(id: id, version: nil)
                return
            }
            guard let version = Int64(parts[1]) else { return nil }
            self = .clientKeyChanged(id: id, version: version)
            return
        }
        let parts = payload.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let id = Int64(parts[0]), id > 0 else { return nil }
        guard parts.count == 2 else {
            self = .changed(configID: id, version: nil)
            return
        }
        if parts[1] == "removed" {
            self = .removed(configID: id)
        } else if let version = Int64(parts[1]) {
            self = .changed(configID: id, version: version)
        } else {
            return nil
        }
    }
}
