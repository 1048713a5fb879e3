import Foundation

/// A live node as `GET /admin/cluster` lists it.
public struct ClusterNode: Sendable, Equatable {
    public var id: String
    public var address: String
    public var mode: String
    public var lastSeen: Date
    public var version: String
    public var startedAt: Date?
    /// What shared component this node cannot reach (`redis`, `invalidation`, `store`) and what it does instead.
    public var degradedReasons: [String: String]
    /// The node that answered this request.
    public var isThisNode: Bool

    public init(
        id: String, address: String, mode: String, lastSeen: Date, version: String = "", startedAt: Date? = nil,
        degradedReasons: [String: String] = [:], isThisNode: Bool = false
    ) {
        self.id = id
        self.address = address
        self.mode = mode
        self.lastSeen = lastSeen
        self.version = version
        self.startedAt = startedAt
        self.degradedReasons = degradedReasons
        self.isThisNode = isThisNode
    }
}

struct ClusterNodeView: Encodable {
    var id: String
    var address: String
    var mode: String
    var version: String
    var last_seen: String
    @ExplicitNull var started_at: String?
    var degraded: Bool
    var degraded_reasons: [String: String]
    var this_node: Bool

    init(_ node: ClusterNode) {
        id = node.id
        address = node.address
        mode = node.mode
        version = node.version
        last_seen = Timestamp.string(node.lastSeen)
        started_at = Timestamp.string(node.startedAt)
        degraded = !node.degradedReasons.isEmpty
        degraded_reasons = node.degradedReasons
        this_node = node.isThisNode
    }
}
