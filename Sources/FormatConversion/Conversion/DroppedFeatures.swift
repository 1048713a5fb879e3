/// What a conversion could not carry across, one short line each, for the caller's debug log.
public struct DroppedFeatures: Sendable, Equatable {
    public private(set) var items: [String] = []

    public init() {}

    public mutating func add(_ item: String) {
        if !items.contains(item) { items.append(item) }
    }

    public var isEmpty: Bool { items.isEmpty }
}
