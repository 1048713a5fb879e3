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
            case _ where !Self.hasOneGeminiVersion(path): self = .unsupported(.gemini)
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

    /// Google serves `/v1`, `/v1beta` and `/v1alpha` (google-genai 3.x calls `/v1` by default, older SDKs `/v1beta`),
    /// right before `models`, once: `/v1beta/v1/models/...` is its 404. Any base path may come before the version.
    private static func hasOneGeminiVersion(_ path: String) -> Bool {
        let segments = path.split(separator: "/")
        guard let models = segments.lastIndex(of: "models"), models > 0, ["v1", "v1beta", "v1alpha"].contains(segments[models - 1]) else { return false }
        guard models > 1 else { return true }
        let before = segments[models - 2]
        return !(before.first == "v" && before.dropFirst().first?.isNumber == true)
    }

    /// `/v1beta/models/gemini-pro:generateContent` -> (`gemini-pro`, `generateContent`).
    private static func geminiAction(_ path: String) -> (model: String, name: Substring)? {
        guard let last = path.split(separator: "/").last, let colon = last.firstIndex(of: ":"),
            path.contains("/models/")
        else { return nil }
        return (String(last[..<colon]), last[last.index(after: colon)...])
    }
}
