import FormatConversion
import NIOCore

/// The parts of a provider's JSON error body that say what went wrong, in the shapes providers use:
/// OpenAI `{"error":{"type","code","message"}}`, Anthropic `{"type":"error","error":{"type","message","details"}}`,
/// Google `{"error":{"code","status","message","details":[ErrorInfo, QuotaFailure, RetryInfo]}}` (also wrapped in
/// an array), and a plain `{"error":"message"}`. Parsed once per answer: the verdict, the reset hint (Gemini's
/// `RetryInfo`) and the message the admin page shows all come from this one value.
public struct ProviderError: Sendable, Equatable {
    /// OpenAI's and Anthropic's `error.type`.
    public var type: String?
    /// OpenAI's `error.code`; Anthropic's `error.details.error_code`.
    public var code: String?
    /// Google's `error.status` (`RESOURCE_EXHAUSTED`).
    public var status: String?
    /// Google's `ErrorInfo.reason`s (`API_KEY_INVALID`).
    public var reasons: [String] = []
    /// Google's `QuotaFailure` violations' `quotaId`s (`GenerateRequestsPerDayPerProjectPerModel-FreeTier`).
    public var quotaIDs: [String] = []
    /// Google's `QuotaFailure` violations' `quotaValue`s: the quota's size ("0": the project has none of it).
    public var quotaValues: [String] = []
    /// The message, lower-cased (never logged). It may echo the request (a model name, a field, a header value the
    /// client chose), so it may only lessen blame (say "the request's doing, try another key"), never bench a key.
    public var message: String = ""
    /// The message as the provider wrote it, not yet scrubbed: for the admin page, after `ProviderMessage.scrub`.
    public var displayMessage: String?
    /// Google's `RetryInfo.retryDelay` in seconds (`GeminiRetryInfo`: strict, at most a day).
    public var retryDelay: Double?

    /// Error bodies beyond this size are not parsed: providers' are a few hundred bytes.
    static let parseLimit = 64 * 1024

    public init(type: String? = nil, code: String? = nil, status: String? = nil, reasons: [String] = [], quotaIDs: [String] = [], message: String = "") {
        self.type = type
        self.code = code
        self.status = status
        self.reasons = reasons
        self.quotaIDs = quotaIDs
        self.message = message
    }

    public init?(body: ByteBuffer) {
        guard body.readableBytes > 0, body.readableBytes <= Self.parseLimit,
            let parsed = try? JSONParser.parse(body.readableBytesView)
        else { return nil }
        let top = parsed.array?.first ?? parsed
        if let text = top["error"]?.string {
            self.init(message: text.lowercased())
            displayMessage = text
            return
        }
        guard let error = top["error"], case .object = error else { return nil }
        let message = error["message"]?.string
        self.init(message: message?.lowercased() ?? "")
        displayMessage = message
        type = error["type"]?.string
        // A code may be a string (OpenAI) or a number (Google's `error.code` is the HTTP status: not a code).
        code = error["code"]?.string
        status = error["status"]?.string
        if let errorCode = error["details"]?["error_code"]?.string { code = errorCode }
        for detail in error["details"]?.array ?? [] {
            if let reason = detail["reason"]?.string { reasons.append(reason) }
            for violation in detail["violations"]?.array ?? [] {
                if let quotaID = violation["quotaId"]?.string { quotaIDs.append(quotaID) }
                if let value = violation["quotaValue"]?.string { quotaValues.append(value) }
            }
        }
        retryDelay = GeminiRetryInfo.delay(inError: error)
    }

    /// What identifies this error across keys: its codes, not its message (messages carry request ids and key hints).
    public var signature: String {
        ([type, code, status].map { $0 ?? "" } + reasons).joined(separator: "|")
    }

    /// Only for verdicts that bench no key (see `message`).
    public func messageContains(_ fragments: String...) -> Bool {
        fragments.contains { message.contains($0) }
    }
}
