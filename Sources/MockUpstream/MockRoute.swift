import HTTPTypes

/// What a request asks for, matched on the path's end so any base path works
/// (`/v1/chat/completions`, `/api/v1/chat/completions`, `/proxy/openai/v1/chat/completions`).
enum MockRoute: Sendable, Equatable {
    case chatCompletions
    case responses
    case models
    case messages
    case generateContent(model: String)
    case streamGenerateContent(model: String)
    /// A provider's path with a method or action it does not serve: that provider's 404.
    case unsupported(ProviderDialect)
    /// Anything else: echo the request back (generic REST behind `/proxy/{slug}`).
    case generic

    init(method: HTTPRequest.Method, path: String) {
        if path.hasSuffix("/chat/completions") {
            self = method == .post ? .chatCompletions : .unsupported(.openAI)
        } else if path.hasSuffix("/responses") {
            self = method == .post ? .responses : .unsupported(.openAI)
        } else if path.hasSuffix("/messages") {
            self = method == .post ? .messages : .unsupported(.anthropic)
        } else if let action = Self.geminiAction(path) {
            switch (method, action.name) {
            case (.post, "generateContent"): self = .generateContent(model: action.model)
            case (.post, "streamGenerateContent"): self = .streamGenerateContent(model: action.model)
            default: self = .unsupported(.gemini)
            }
        } else if method == .get, path.hasSuffix("/models") {
            self = .models
        } else {
            self = .generic
        }
    }

    /// `/v1beta/models/gemini-pro:generateContent` -> (`gemini-pro`, `generateContent`).
    private static func geminiAction(_ path: String) -> (model: String, name: Substring)? {
        guard let last = path.split(separator: "/").last, let colon = last.firstIndex(of: ":"),
            path.contains("/models/")
        else { return nil }
        return (String(last[..<colon]), last[last.index(after: colon)...])
    }
}
