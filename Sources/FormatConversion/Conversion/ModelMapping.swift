/// A config's model names: the client's name -> the upstream's, and the model to use for any other name
/// (or when the client names none). Without either, the client's name goes up unchanged.
public struct ModelMapping: Sendable, Equatable {
    public var map: [String: String]
    public var defaultModel: String?

    public init(map: [String: String] = [:], defaultModel: String? = nil) {
        self.map = map
        self.defaultModel = defaultModel.flatMap { $0.isEmpty ? nil : $0 }
    }

    public static let identity = ModelMapping()

    public func upstreamModel(for clientModel: String?) -> String? {
        if let clientModel, let mapped = map[clientModel] { return mapped }
        return defaultModel ?? clientModel
    }

    public var isIdentity: Bool { map.isEmpty && defaultModel == nil }
}
