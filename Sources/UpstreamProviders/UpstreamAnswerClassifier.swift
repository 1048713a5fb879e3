import NIOCore
import NIOHTTP1
import RotatorCore

import Foundation

/// Judges each upstream answer by its status, the provider's error body and its headers: the key's fault (revoked,
/// out of quota), a rate limit, the request's own fault, or the upstream's. The config's overrides come first, then
/// the dialect's error codes, then the status alone. Only key-level answers may bench a key.
public struct UpstreamAnswerClassifier: Sendable {
    public let dialect: UpstreamDialect
    public let overrides: [AnswerOverride]

    public init(dialect: UpstreamDialect, overrides: [AnswerOverride] = []) {
        self.dialect = dialect
        self.overrides = overrides
    }

    /// - Parameter body: the answer's body when it was read (error answers are; successes need not be).
    public func classify(status: Int, headers: HTTPHeaders, body: ByteBuffer?, now: Date) -> UpstreamAnswer {
        if (100..<400).contains(status), !overrides.contains(where: { $0.status == status }) {
            return UpstreamAnswer(status: status, blame: .success, signature: String(status), reason: "answered \(status)")
        }
        // The body is parsed here once: codes, reset hint and message all come from this value.
        let error = body.flatMap(ProviderError.init(body:))
        let signature = [String(status), error?.signature].compactMap { $0 }.joined(separator: "|")
        if let override = matchingOverride(status: status, body: body) {
            let blame = Self.blame(override.blame, status: status, headers: headers, retryDelay: error?.retryDelay, now: now)
            return UpstreamAnswer(status: status, blame: blame, signature: signature, reason: "config override: \(override.blame.rawValue) on \(status)",
                                  providerMessage: error?.displayMessage)
        }
        let provider = dialect.provider
        let byCode = error.flatMap { provider.judge(status: status, error: $0) }
        var judged = byCode ?? UpstreamDialect.judge(status: status)
        switch judged.blame {
        case .rateLimited where provider.requestExceedsTokenLimit(headers: headers):
            judged = (.request(dependsOnKey: true), "\(judged.reason): the request alone exceeds the key's per-minute tokens")
        case .rateLimited:
            judged.blame = .rateLimited(retryAfter: RateLimitReset.seconds(headers: headers, retryDelay: error?.retryDelay, now: now))
        case .keyExhausted:
            // Only an explicit wait: OpenAI's `x-ratelimit-reset-*` count down its rate windows, not the quota.
            judged.blame = .keyExhausted(retryAfter: RateLimitReset.explicitWait(headers: headers, retryDelay: error?.retryDelay, now: now))
        default:
            break
        }
        return UpstreamAnswer(status: status, blame: judged.blame, signature: signature, reason: judged.reason, isStatusOnly: byCode == nil,
                              isPerModel: byCode != nil && provider.limitIsPerModel(judged.blame, error: error), providerMessage: error?.displayMessage)
    }

    private func matchingOverride(status: Int, body: ByteBuffer?) -> AnswerOverride? {
        guard !overrides.isEmpty else { return nil }
        var lowered: String?
        for override in overrides {
            if let wanted = override.status, wanted != status { continue }
            if let text = override.bodyContains, !text.isEmpty {
                if lowered == nil { lowered = body.map { String(decoding: $0.readableBytesView, as: UTF8.self).lowercased() } ?? "" }
                guard lowered!.contains(text.lowercased()) else { continue }
            }
            return override
        }
        return nil
    }

    private static func blame(_ blame: AnswerOverride.Blame, status: Int, headers: HTTPHeaders, retryDelay: Double?, now: Date) -> AnswerBlame {
        switch blame {
        case .keyInvalid: return .keyInvalid
        case .keyExhausted: return .keyExhausted(retryAfter: RateLimitReset.explicitWait(headers: headers, retryDelay: retryDelay, now: now))
        case .rateLimited: return .rateLimited(retryAfter: RateLimitReset.seconds(headers: headers, retryDelay: retryDelay, now: now))
        case .request: return .request(dependsOnKey: false)
        case .upstream: return .upstream
        }
    }
}
