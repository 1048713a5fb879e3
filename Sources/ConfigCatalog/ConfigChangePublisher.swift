/// Tells other nodes that a config changed. Lightweight mode has no other nodes; enterprise mode publishes
/// on Redis so every node refreshes its cache.
public protocol ConfigChangePublisher: Sendable {
    func publishChange(configID: Int64, version: Int64) async
}

public struct LocalOnlyChangePublisher: ConfigChangePublisher {
    public init() {}
    public func publishChange(configID: Int64, version: Int64) async {}
}
