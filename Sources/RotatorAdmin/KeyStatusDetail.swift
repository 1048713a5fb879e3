import Foundation
import KeyCoordination
import RotatorCore
import TrafficStats

/// Why a key is out of rotation, in fields the page turns into a sentence in its language, and in an English
/// `summary`: cooling until when and why, quarantined after which answer, invalid since when after which
/// rejections, or disabled by an admin. Nil for a key in rotation.
struct KeyStatusDetail: Encodable, Equatable, Sendable {
    enum Reason: String, Encodable, Sendable {
        case disabled, invalid, exhausted, quarantined, cooling
    }

    struct Rejection: Encodable, Equatable, Sendable {
        var at: String
        var status: Int
        var message: String?
    }

    var reason: Reason
    var since: String?
    var until: String?
    /// `provider_reset_hint`, `default_cooldown`, `upstream_rejection` or `admin`; nil when this node does not know.
    var cause: String?
    var upstream_status: Int?
    /// The provider's message (scrubbed), or the store's last error.
    var message: String?
    var rejections: [Rejection]
    var summary: String

    /// - Parameter events: the key's recent events, oldest first (this node's, or the fleet's in enterprise mode).
    static func explain(_ record: APIKeyRecord, runtime: KeyRuntimeState?, events: [KeyEvent], now: Date) -> KeyStatusDetail? {
        let stamp = { (seconds: Double) in Timestamp.string(Date(timeIntervalSince1970: seconds)) }
        let rejections = events.suffix(while: { $0.kind == .quarantined || $0.kind == .invalidated }).map { Rejection(at: stamp($0.at), status: $0.status, message: $0.message) }
        if !record.isActive {
            return KeyStatusDetail(reason: .disabled, since: Timestamp.string(record.updatedAt), until: nil, cause: "admin", upstream_status: nil,
                                   message: nil, rejections: [], summary: "Disabled by an admin since \(Timestamp.string(record.updatedAt)).")
        }
        if record.isInvalid {
            let invalidation = events.last { $0.kind == .invalidated }
            let since = invalidation.map { stamp($0.at) } ?? Timestamp.string(record.updatedAt)
            let message = invalidation?.message ?? rejections.last?.message ?? record.lastError
            let status = invalidation?.status ?? rejections.last?.status
            let count = max(rejections.count, 1)
            var summary = "Invalid since \(since): the provider rejected it \(rejections.isEmpty ? "repeatedly" : "\(count) times in a row")"
            if let status { summary += " (\(status))" }
            if let message { summary += ": \(message)" }
            summary += ". Enable it again once the key is fixed."
            return KeyStatusDetail(reason: .invalid, since: since, until: nil, cause: "upstream_rejection", upstream_status: status, message: message,
                                   rejections: Array(rejections.suffix(5)), summary: summary)
        }
        if let exhaustedUntil = runtime?.quotaExhaustedUntil, exhaustedUntil > now.timeIntervalSince1970 {
            let event = events.last { $0.kind == .quotaExhausted }
            let until = stamp(exhaustedUntil)
            var summary = "Out of credit or quota until \(until)"
            if let message = event?.message { summary += ": \(message)" }
            return KeyStatusDetail(reason: .exhausted, since: event.map { stamp($0.at) }, until: until, cause: "quota_exhausted",
                                   upstream_status: event?.status, message: event?.message, rejections: [], summary: summary + ".")
        }
        // A rest of the whole key, or else of the key for some models (it serves the others).
        let wholeKey = runtime?.coolingUntil.flatMap { $0 > now.timeIntervalSince1970 ? $0 : nil }
        let modelRests = runtime?.modelCoolingUntil.filter { $0.value > now.timeIntervalSince1970 } ?? [:]
        guard let coolingUntil = wholeKey ?? modelRests.values.max() else { return nil }
        let until = stamp(coolingUntil)
        let scope = wholeKey == nil ? " for \(modelRests.keys.sorted().joined(separator: ", ")) only (a per-model limit; other models are served)" : ""
        // The event that set this cooldown: the latest one whose end is (about) the coordinator's.
        let cause = events.last { ($0.kind == .rateLimited || $0.kind == .quarantined) && ($0.until ?? 0) > now.timeIntervalSince1970 - 1 }
        switch cause?.kind {
        case .quarantined?:
            var summary = "Quarantined until \(until) after a \(cause!.status) answer"
            if let message = cause!.message { summary += ": \(message)" }
            return KeyStatusDetail(reason: .quarantined, since: stamp(cause!.at), until: until, cause: "upstream_rejection", upstream_status: cause!.status,
                                   message: cause!.message, rejections: Array(rejections.suffix(5)), summary: summary + ".")
        case .rateLimited?:
            let hinted = cause!.source == .providerHint
            let summary = "Cooling\(scope) until \(until) after a 429: " + (hinted ? "the provider's reset hint." : "no reset hint, so the default cooldown (COOLDOWN_SECONDS).")
            return KeyStatusDetail(reason: .cooling, since: stamp(cause!.at), until: until, cause: cause!.source?.rawValue, upstream_status: 429,
                                   message: nil, rejections: [], summary: summary)
        default:
            return KeyStatusDetail(reason: .cooling, since: nil, until: until, cause: nil, upstream_status: nil, message: nil, rejections: [],
                                   summary: "Cooling\(scope) until \(until).")
        }
    }
}

extension Array {
    /// The longest run at the end whose elements all satisfy `predicate`.
    func suffix(while predicate: (Element) -> Bool) -> ArraySlice<Element> {
        var start = endIndex
        while start > startIndex, predicate(self[start - 1]) { start -= 1 }
        return self[start...]
    }
}
