import RotatorCore
import UpstreamProviders

extension UpstreamDialect {
    /// `/proxy/` routes speak `.generic` whatever the config's `api_format` says.
    public init(config: ProxyConfig, route: ProxyRouteKind) {
        switch route {
        case .llm: self.init(format: config.apiFormat)
        case .generic: self = .generic
        }
    }
}

extension UpstreamAnswerClassifier {
    public init(config: ProxyConfig, route: ProxyRouteKind) {
        self.init(dialect: UpstreamDialect(config: config, route: route), overrides: config.answerOverrides)
    }
}
