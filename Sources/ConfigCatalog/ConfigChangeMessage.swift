/// What one node tells the others about a config, on the invalidation channel.
///
/// Payloads: `"<id>:<version>"` (changed; the receiver reloads unless it already holds that version),
/// `"<id>"` (changed, version unknown: reload), `"<id>:removed"` (deleted: drop it, no store read needed).
/// Nodes of earlier releases read `"<id>:removed"` as "changed, version unknown" and reload, which also drops it.
public enum ConfigChangeMessage: Sendable, Equatable {
    case changed(configID: Int64, version: Int64?)
    case removed(configID: Int64)

    public var configID: Int64 {
        switch self {
        case .changed(let id, _), .removed(let id): return id
        }
    }

    public var payload: String {
        switch self {
        case .changed(let id, let version?): return "\(id):\(version)"
        case .changed(let id, nil): return "\(id)"
        case .removed(let id): return "\(id):removed"
        }
    }

    public init?(payload: String) {
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
