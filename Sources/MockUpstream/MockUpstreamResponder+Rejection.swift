import Foundation
import HTTPTypes
import Hummingbird

extension MockUpstreamResponder {
    /// 401, 429 (per-model ones in their own shape) or an injected status, in the provider's error shape, with the 429's retry hint in the key's style.
    static func rejection(_ outcome: Admission.Outcome, style: RetryAfterStyle, dialect: ProviderDialect, keySuffix: String?) -> Response {
        let key = keySuffix.map { "...\($0)" } ?? "(none)"
        var headers: HTTPFields = [:]
        var dialect = dialect
        var retryDelay: Int?
        let message: String
        switch outcome {
        case .serve:
            message = "Not an error."
        case .missingKey:
            message = dialect.missingKeyMessage
        case .revoked:
            message = "Incorrect API key provided: \(key)."
        case .rateLimited(let seconds, let accountWide):
            message = accountWide
                ? "Rate limit reached for the account. Please try again in \(seconds)s."
                : "Rate limit reached for key \(key). Please try again in \(seconds)s."
            switch style {
            case .seconds:
                headers[.retryAfter] = String(seconds)
            case .httpDate:
                // Round now up, so the date is never earlier than `seconds` from the client's view.
                let now = Int(Date().timeIntervalSince1970.rounded(.up))
                headers[.retryAfter] = HTTPDate.string(epochSeconds: now + seconds)
            case .openAIResetHeaders:
                headers[.xRateLimitResetRequests] = "\(seconds)s"
                headers[.xRateLimitRemainingRequests] = "0"
            case .geminiRetryInfo:
                // The hint lives only in Gemini's body shape, so that shape is used whatever the route.
                dialect = .gemini
                retryDelay = seconds
            case .none:
                break
            }
        case .modelLimited(let model, let limit):
            return modelLimitAnswer(model: model, limit: limit, dialect: dialect)
        case .status(let code):
            message = code >= 500 ? "The server had an error while processing your request (mock \(code))." : "Mock status \(code)."
        }
        let status = outcome.status
        return json(status, dialect.errorBody(status: status, message: message, retryDelaySeconds: retryDelay), headers: headers)
    }
}
