/// Gemini `generateContent` / `streamGenerateContent` (`/v1beta/models/{model}:...`): the `gemini` client
/// format and the `gemini_native` upstream format.
public enum GeminiFormat: ClientWireFormat, UpstreamWireFormat {
    public static let modelsPath = "/v1beta/models"

    public static func encodeError(_ error: UpstreamError) -> JSONValue {
        let status = switch error.kind {
        case .invalidRequest: "INVALID_ARGUMENT"
        case .authentication: "UNAUTHENTICATED"
        case .permission: "PERMISSION_DENIED"
        case .notFound: "NOT_FOUND"
        case .requestTooLarge: "INVALID_ARGUMENT"
        case .rateLimited: "RESOURCE_EXHAUSTED"
        case .overloaded, .unavailable: "UNAVAILABLE"
        case .server: "INTERNAL"
        case .timeout: "DEADLINE_EXCEEDED"
        }
        var details: [JSONValue] = []
        if let seconds = error.retryAfterSeconds {
            details.append(.object(JSONObject([("@type", "type.googleapis.com/google.rpc.RetryInfo"), ("retryDelay", .string("\(seconds)s"))])))
        }
        var inner = JSONObject([("code", .int(error.status)), ("message", .string(error.message)), ("status", .string(status))])
        if !details.isEmpty { inner["details"] = .array(details) }
        return .object(JSONObject([("error", .object(inner))]))
    }

    public static func decodeError(status: Int, body: JSONValue?, retryAfterSeconds: Int?) -> UpstreamError {
        let error = body?["error"]
        let kind: UpstreamError.Kind? = switch error?["status"]?.string {
        case "UNAUTHENTICATED"?: .authentication
        case "PERMISSION_DENIED"?: status == 403 && (error?["message"]?.string ?? "").contains("API key") ? .authentication : .permission
        case "NOT_FOUND"?: .notFound
        case "RESOURCE_EXHAUSTED"?: .rateLimited
        case "UNAVAILABLE"?: .overloaded
        case "INTERNAL"?: .server
        case "DEADLINE_EXCEEDED"?: .timeout
        case "INVALID_ARGUMENT"?, "FAILED_PRECONDITION"?: .invalidRequest
        default: nil
        }
        // The retry hint lives in the body: `details[].retryDelay` of a google.rpc.RetryInfo, e.g. "30s".
        let bodyDelay = GeminiRetryInfo.delay(inError: error).map { Int($0.rounded(.up)) }
        return UpstreamError(
            status: status, kind: kind, message: error?["message"]?.string ?? "The upstream answered \(status).",
            retryAfterSeconds: retryAfterSeconds ?? bodyDelay)
    }

    public static func encodeModels(_ models: [ModelInfo]) -> JSONValue {
        .object(JSONObject([
            ("models", .array(models.map { model in
                .object(JSONObject([
                    ("name", .string("models/\(model.id)")), ("displayName", .string(model.displayName ?? model.id)),
                    ("supportedGenerationMethods", ["generateContent", "streamGenerateContent"]),
                ]))
            })),
        ]))
    }

    public static func decodeModels(_ body: JSONValue) throws(ConversionFailure) -> [ModelInfo] {
        guard let models = body["models"]?.array else { throw ConversionFailure(status: 502, "The upstream model list has no 'models' array.") }
        return models.compactMap { entry in
            entry["name"]?.string.map {
                ModelInfo(id: $0.hasPrefix("models/") ? String($0.dropFirst(7)) : $0, displayName: entry["displayName"]?.string)
            }
        }
    }

    public static func makeStreamEncoder(_ options: ClientStreamOptions) -> any ClientStreamEncoder {
        GeminiStreamEncoder(options: options)
    }

    public static func makeStreamDecoder() -> any UpstreamStreamDecoder {
        GeminiStreamDecoder()
    }

    static func finishReason(_ reason: FinishReason) -> String {
        switch reason {
        case .stop, .toolCalls: "STOP"
        case .length: "MAX_TOKENS"
        case .contentFilter: "SAFETY"
        case .other: "OTHER"
        }
    }

    static func finishReason(_ text: String?, hasToolCalls: Bool) -> FinishReason? {
        switch text {
        case nil: nil
        case "STOP"?: hasToolCalls ? .toolCalls : .stop
        case "MAX_TOKENS"?: .length
        case "SAFETY"?, "RECITATION"?, "BLOCKLIST"?, "PROHIBITED_CONTENT"?, "SPII"?, "IMAGE_SAFETY"?: .contentFilter
        case let other?: .other(other)
        }
    }

    /// Output tokens include thinking tokens: both are billed as output.
    static func usage(_ value: JSONValue?) -> TokenUsage? {
        guard let value, value["promptTokenCount"] != nil || value["candidatesTokenCount"] != nil else { return nil }
        return TokenUsage(
            inputTokens: value["promptTokenCount"]?.int ?? 0,
            outputTokens: (value["candidatesTokenCount"]?.int ?? 0) + (value["thoughtsTokenCount"]?.int ?? 0),
            cachedTokens: value["cachedContentTokenCount"]?.int ?? 0)
    }

    static func encodeUsage(_ usage: TokenUsage) -> JSONValue {
        .object(JSONObject([
            ("promptTokenCount", .int(usage.inputTokens)), ("candidatesTokenCount", .int(usage.outputTokens)),
            ("totalTokenCount", .int(usage.totalTokens)),
        ]))
    }

    /// One `functionCall` part; `args` must be an object.
    static func functionCallPart(_ call: ToolCall, dropped: inout DroppedFeatures) -> JSONValue {
        .object(JSONObject([
            ("functionCall", .object(JSONObject([("name", .string(call.name)), ("args", ToolArguments.object(call.arguments, dropped: &dropped))]))),
        ]))
    }
}
