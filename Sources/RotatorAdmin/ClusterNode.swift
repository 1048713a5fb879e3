import Foundation

/// A live node as `GET /admin/cluster` lists it.
public struct ClusterNode: Sendable, Equatable {
    public var id: String
    public var address: String
    public var mode: String
    public var lastSeen: Date

    public init(id: String, address: String, mode: String, lastSeen: Date) {
        self.id = id
        self.address = address
        self.mode = mode
        self.lastSeen = lastSeen
    }
}

struct ClusterNodeView: Encodable {
    var id: String
    var address: String
    var mode: String
    var last_seen: String

    init(_ node: ClusterNode) {
        id = node.id
        address = node.address
        mode = node.mode
        last_seen = Timestamp.string(node.lastSeen)
    }
}
