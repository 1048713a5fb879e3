import RotatorCore

extension ProxyConfig {
    /// The formats this config converts between, or nil for pass-through (`output_format` none, or a generic config).
    public var formatPair: FormatPair? {
        configType == .llm ? FormatPair(client: clientFormat, upstream: apiFormat) : nil
    }

    /// The config's model names, for `RequestConversion`.
    public var modelMapping: ModelMapping {
        ModelMapping(map: modelMap, defaultModel: defaultModel)
    }
}
