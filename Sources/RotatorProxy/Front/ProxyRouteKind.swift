import RotatorCore

/// The two proxy route families: `/llm/{slug}/...` speaks an LLM wire format, `/proxy/{slug}/...` any REST API.
public enum ProxyRouteKind: Sendable {
    case llm
    case generic

    public var pathPrefix: String {
        switch self {
        case .llm: return "llm"
        case .generic: return "proxy"
        }
    }

    var configType: ConfigType {
        switch self {
        case .llm: return .llm
        case .generic: return .generic
        }
    }
}
