import RotatorCore

extension ProxyConfig {
    /// The formats this config converts between, or nil for pass-through (`output_format` none, or a generic config).
    public var formatPair: FormatPair? {
        fields.configType == .llm ? FormatPair(client: clientFormat, upstream: fields.apiFormat) : nil
    }

    /// The config's model names, for `RequestConversion`.
    public var modelMapping: ModelMapping {
        ModelMapping(map: fields.modelMap, defaultModel: fields.defaultModel)
    }
}
