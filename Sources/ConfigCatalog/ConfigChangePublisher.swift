/// Tells other nodes that a config changed. Lightweight mode has no other nodes; enterprise mode publishes
/// on Redis so every node refreshes its cache.
public protocol ConfigChangePublisher: Sendable {
    func publish(_ message: ConfigChangeMessage) async
}

public struct LocalOnlyChangePublisher: ConfigChangePublisher {
    public init() {}
    public func publish(_ message: ConfigChangeMessage) async {}
}
