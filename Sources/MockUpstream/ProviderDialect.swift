/// Which provider's shapes an answer uses; error bodies in particular differ, and the rotator reads each.
enum ProviderDialect: Sendable, Equatable {
    case openAI
    case anthropic
    case gemini
    /// Arbitrary REST behind `/proxy/{slug}`: errors borrow OpenAI's shape, the most common one.
    case generic

    /// Whether the provider reads its key from there: OpenAI `Authorization: Bearer`, Anthropic `x-api-key` (or
    /// `Authorization: Bearer`, which its SDK sends since 2.x), Gemini `x-goog-api-key` or `?key=`. Generic REST takes any.
    func accepts(_ source: Credential.Source) -> Bool {
        switch (self, source) {
        case (.generic, _), (.openAI, .bearer), (.anthropic, .anthropicHeader), (.anthropic, .bearer), (.gemini, .googleHeader), (.gemini, .googleQuery): true
        default: false
        }
    }

    /// What the provider says when it finds no key where it looks.
    var missingKeyMessage: String {
        switch self {
        case .openAI, .generic:
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        case .anthropic: "x-api-key header is required"
        case .gemini: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."
        }
    }

    /// The provider's error JSON. `retryDelaySeconds` adds Gemini's RetryInfo detail (Gemini only).
    func errorBody(status: Int, message: String, retryDelaySeconds: Int? = nil) -> String {
        switch self {
        case .openAI, .generic:
            let (type, code) = Self.openAIKinds(status)
            return #"{"error":{"message":\#(JSONText.quote(message)),"type":"\#(type)","param":null,"code":\#(code.map(JSONText.quote) ?? "null")}}"#
        case .anthropic:
            return #"{"type":"error","error":{"type":"\#(Self.anthropicType(status))","message":\#(JSONText.quote(message))}}"#
        case .gemini:
            let details = retryDelaySeconds.map {
                #"{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"\#($0)s"}"#
            } ?? ""
            return #"{"error":{"code":\#(status),"message":\#(JSONText.quote(message)),"status":"\#(Self.googleStatus(status))","details":[\#(details)]}}"#
        }
    }

    private static func openAIKinds(_ status: Int) -> (type: String, code: String?) {
        switch status {
        case 401: ("invalid_request_error", "invalid_api_key")
        case 429: ("requests", "rate_limit_exceeded")
        case 500..<600: ("server_error", nil)
        default: ("invalid_request_error", nil)
        }
    }

    private static func anthropicType(_ status: Int) -> String {
        switch status {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 503, 529: "overloaded_error"
        case 500..<600: "api_error"
        default: "invalid_request_error"
        }
    }

    private static func googleStatus(_ status: Int) -> String {
        switch status {
        case 400: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 429: "RESOURCE_EXHAUSTED"
        case 500: "INTERNAL"
        case 503: "UNAVAILABLE"
        case 504: "DEADLINE_EXCEEDED"
        default: "UNKNOWN"
        }
    }
}
