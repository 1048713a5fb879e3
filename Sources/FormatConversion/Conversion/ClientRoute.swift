import RotatorCore

/// What a client's path asks of a converting config, decided from the request head alone.
public enum ClientRoute: Sendable, Equatable {
    case chat(ChatCall)
    case listModels
    /// No such path for this client format: answer 404 with `body` (the client's error shape, naming the paths
    /// that work).
    case notFound(body: [UInt8])

    /// `path` is what follows `/llm/{slug}`, query included (`/v1/chat/completions`, `/v1beta/models/m:generateContent?alt=sse`).
    public static func resolve(outputFormat: OutputFormat, method: String, path: String) -> ClientRoute {
        let (route, query) = split(path)
        let isPost = method == "POST"
        let isGet = method == "GET"
        switch outputFormat {
        case .openAI:
            if isPost, route == "/v1/chat/completions" { return .chat(ChatCall()) }
            if isGet, route == "/v1/models" { return .listModels }
        case .openAIResponses:
            if isPost, route == "/v1/responses" { return .chat(ChatCall()) }
            if isGet, route == "/v1/models" { return .listModels }
        case .anthropic:
            if isPost, route == "/v1/messages" { return .chat(ChatCall()) }
            if isGet, route == "/v1/models" { return .listModels }
        case .gemini:
            // Google serves the same shapes under `/v1`, `/v1beta` and `/v1alpha`; google-genai calls any of them
            // (`/v1` by default from 3.x).
            let versions = ["/v1beta", "/v1", "/v1alpha"]
            if isGet, versions.contains(where: { route == $0 + "/models" }) { return .listModels }
            if isPost, let prefix = versions.lazy.map({ $0 + "/models/" }).first(where: route.hasPrefix), let colon = route.lastIndex(of: ":") {
                let model = String(route[route.index(route.startIndex, offsetBy: prefix.count)..<colon])
                let action = route[route.index(after: colon)...]
                let sse = query.split(separator: "&").contains("alt=sse")
                if !model.isEmpty, !model.contains("/") {
                    if action == "generateContent" { return .chat(ChatCall(pathModel: model, pathStreams: false)) }
                    if action == "streamGenerateContent" { return .chat(ChatCall(pathModel: model, pathStreams: true, serverSentEvents: sse)) }
                }
            }
        case .none:
            break
        }
        return .notFound(body: notFoundBody(outputFormat: outputFormat, method: method, path: String(route)))
    }

    /// The paths a client format answers, for 404 bodies and documentation.
    public static func paths(for format: OutputFormat) -> [String] {
        switch format {
        case .openAI: ["POST /v1/chat/completions", "GET /v1/models"]
        case .openAIResponses: ["POST /v1/responses", "GET /v1/models"]
        case .anthropic: ["POST /v1/messages", "GET /v1/models"]
        case .gemini: ["POST /v1beta/models/{model}:generateContent", "POST /v1beta/models/{model}:streamGenerateContent", "GET /v1beta/models"]
        case .none: []
        }
    }

    private static func notFoundBody(outputFormat: OutputFormat, method: String, path: String) -> [UInt8] {
        let message = "\(method) \(path.prefix(200)) is not served by this config: its clients speak '\(outputFormat.rawValue)', "
            + "which answers \(paths(for: outputFormat).joined(separator: ", "))."
        let error = UpstreamError(status: 404, kind: .notFound, message: message)
        guard let pair = FormatPair(client: outputFormat, upstream: .openAICompatible) else { return [] }
        return pair.clientErrorBody(error)
    }

    private static func split(_ path: String) -> (route: Substring, query: Substring) {
        guard let mark = path.firstIndex(of: "?") else { return (path[...], "") }
        return (path[..<mark], path[path.index(after: mark)...])
    }
}
