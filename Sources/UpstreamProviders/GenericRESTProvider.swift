import FormatConversion

/// Any REST API (`/proxy/` routes): its config says where the key goes; only the status says what happened.
public enum GenericRESTProvider: UpstreamProvider {
    public static let keyHeader: (name: String, bearer: Bool)? = nil
    public static let modelPlace = ModelPlace.none
    public static let errorShape: (any ClientWireFormat.Type)? = nil
    public static let modelsPath: String? = nil

    public static func judge(status: Int, error: ProviderError) -> (blame: AnswerBlame, reason: String)? { nil }
}
