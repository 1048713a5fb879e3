import HTTPTypes

/// What a request asks for, matched on the path's end so any base path works
/// (`/v1/chat/completions`, `/api/v1/chat/completions`, `/proxy/openai/v1/chat/completions`).
enum MockRoute: Sendable, Equatable {
    case chatCompletions
    case models
    case messages
    case generateContent(model: String)
    case streamGenerateContent(model: String)
    /// Anything else: echo the request back.
    case generic

    init(method: HTTPRequest.Method, path: String) {
        switch method {
        case .post where path.hasSuffix("/chat/completions"):
            self = .chatCompletions
        case .post where path.hasSuffix("/messages"):
            self = .messages
        case .post where path.hasSuffix(":streamGenerateContent"):
            self = .streamGenerateContent(model: Self.geminiModel(path, action: ":streamGenerateContent"))
        case .post where path.hasSuffix(":generateContent"):
            self = .generateContent(model: Self.geminiModel(path, action: ":generateContent"))
        case .get where path.hasSuffix("/models"):
            self = .models
        default:
            self = .generic
        }
    }

    /// `/v1beta/models/gemini-pro:generateContent` -> `gemini-pro`.
    private static func geminiModel(_ path: String, action: String) -> String {
        let withoutAction = path.dropLast(action.count)
        return String(withoutAction.split(separator: "/").last ?? "gemini-mock")
    }
}
