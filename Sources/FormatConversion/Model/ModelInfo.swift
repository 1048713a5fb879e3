/// One entry of a model list.
public struct ModelInfo: Sendable, Equatable {
    public var id: String
    public var displayName: String?
    /// Unix seconds, when known.
    public var created: Int?

    public init(id: String, displayName: String? = nil, created: Int? = nil) {
        self.id = id
        self.displayName = displayName
        self.created = created
    }
}
