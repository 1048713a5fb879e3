/// An admin's correction to how a config's upstream answers are judged, for upstreams whose error codes the
/// proxy does not know: an answer with `status` (any status when nil) whose body contains `bodyContains`
/// (ASCII case-insensitive; any body when nil) counts as `blame`. The first matching override wins.
public struct AnswerOverride: Sendable, Equatable, Codable {
    public enum Blame: String, Sendable, Codable, CaseIterable {
        /// The key is revoked or invalid: quarantine it, invalid after repeated answers.
        case keyInvalid = "key_invalid"
        /// The key's money or quota is gone: a long cooldown.
        case keyExhausted = "key_exhausted"
        /// The key is rate limited: cool it until the reset.
        case rateLimited = "rate_limited"
        /// The request itself cannot be served: pass the answer to the client, blame no key.
        case request
        /// The upstream failed: retry on another key within the retry budget.
        case upstream
    }

    public var status: Int?
    public var bodyContains: String?
    public var blame: Blame

    public init(status: Int?, bodyContains: String?, blame: Blame) {
        self.status = status
        self.bodyContains = bodyContains
        self.blame = blame
    }

    enum CodingKeys: String, CodingKey {
        case status
        case bodyContains = "body_contains"
        case blame
    }

    /// Most overrides one config may hold, and the longest body text one may match (admin validation).
    public static let maximumCount = 32
    public static let maximumTextLength = 200
}
