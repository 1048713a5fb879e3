import NIOCore

import Foundation

/// The parts of a provider's JSON error body that say what went wrong, in the shapes providers use:
/// OpenAI `{"error":{"type","code","message"}}`, Anthropic `{"type":"error","error":{"type","message","details"}}`,
/// Google `{"error":{"code","status","message","details":[ErrorInfo, QuotaFailure, RetryInfo]}}` (also wrapped in
/// an array), and a plain `{"error":"message"}`.
struct ProviderError: Sendable, Equatable {
    /// OpenAI's and Anthropic's `error.type`.
    var type: String?
    /// OpenAI's `error.code`; Anthropic's `error.details.error_code`.
    var code: String?
    /// Google's `error.status` (`RESOURCE_EXHAUSTED`).
    var status: String?
    /// Google's `ErrorInfo.reason`s (`API_KEY_INVALID`).
    var reasons: [String] = []
    /// Google's `QuotaFailure` violations' `quotaId`s (`GenerateRequestsPerDayPerProjectPerModel-FreeTier`).
    var quotaIDs: [String] = []
    /// Google's `QuotaFailure` violations' `quotaValue`s: the quota's size ("0": the project has none of it).
    var quotaValues: [String] = []
    /// The message, lower-cased (never logged). It may echo the request (a model name, a field, a header value the
    /// client chose), so it may only lessen blame (say "the request's doing, try another key"), never bench a key.
    var message: String = ""

    /// Error bodies beyond this size are not parsed: providers' are a few hundred bytes.
    static let parseLimit = 64 * 1024

    init(type: String? = nil, code: String? = nil, status: String? = nil, reasons: [String] = [], quotaIDs: [String] = [], message: String = "") {
        self.type = type
        self.code = code
        self.status = status
        self.reasons = reasons
        self.quotaIDs = quotaIDs
        self.message = message
    }

    init?(body: ByteBuffer) {
        guard body.readableBytes > 0, body.readableBytes <= Self.parseLimit,
            let parsed = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))
        else { return nil }
        let top = (parsed as? [String: Any]) ?? ((parsed as? [Any])?.first as? [String: Any])
        guard let top else { return nil }
        if let text = top["error"] as? String {
            self.init(message: text.lowercased())
            return
        }
        guard let error = top["error"] as? [String: Any] else { return nil }
        self.init(message: (error["message"] as? String)?.lowercased() ?? "")
        type = error["type"] as? String
        code = Self.text(error["code"])
        status = error["status"] as? String
        if let details = error["details"] as? [String: Any], let errorCode = details["error_code"] as? String {
            code = errorCode
        }
        for detail in error["details"] as? [[String: Any]] ?? [] {
            if let reason = detail["reason"] as? String { reasons.append(reason) }
            for violation in detail["violations"] as? [[String: Any]] ?? [] {
                if let quotaID = violation["quotaId"] as? String { quotaIDs.append(quotaID) }
                if let value = violation["quotaValue"] as? String { quotaValues.append(value) }
            }
        }
    }

    /// A code may be a string (OpenAI) or a number (Google's `error.code` is the HTTP status: not a code).
    private static func text(_ value: Any?) -> String? {
        value as? String
    }

    /// What identifies this error across keys: its codes, not its message (messages carry request ids and key hints).
    var signature: String {
        ([type, code, status].map { $0 ?? "" } + reasons).joined(separator: "|")
    }

    /// Only for verdicts that bench no key (see `message`).
    func messageContains(_ fragments: String...) -> Bool {
        fragments.contains { message.contains($0) }
    }
}
