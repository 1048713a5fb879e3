import FormatConversion
import NIOHTTP1

/// What the proxy knows about one upstream provider's API, beside the bodies (`FormatConversion`'s wire formats):
/// where a client of its SDKs puts a credential, where the upstream key goes, the version header, what its error
/// codes and signatures mean, the shape of its errors, and the cheap call that checks a key. One conformer per
/// dialect (`OpenAICompatibleProvider`, `AnthropicProvider`, `GeminiProvider`, `GenericRESTProvider`); the relay
/// and the admin ask `UpstreamDialect.provider`, and nothing else switches over formats.
public protocol UpstreamProvider: Sendable {
    /// The header the upstream takes its key in (nil: a generic config says where).
    static var keyHeader: (name: String, bearer: Bool)? { get }
    /// Headers besides `Authorization` and `X-Proxy-Key` a client of this format presents its key in.
    static var clientKeyHeaders: [String] { get }
    /// Query parameters a client of this format may carry its credential in (dropped before the upstream).
    static var credentialQueryNames: Set<String> { get }
    /// The API version header every call carries (Anthropic's `anthropic-version`).
    static var versionHeader: (name: String, value: String)? { get }
    /// Headers that only mean something to this provider: dropped when a converted request goes to another one.
    static var ownHeaders: [String] { get }
    /// Where a request names its model.
    static var modelPlace: ModelPlace { get }
    /// The wire format whose error shape this provider's SDKs parse (nil: the generic `{"error": message}`).
    static var errorShape: (any ClientWireFormat.Type)? { get }
    /// `GET` path of the model list: the cheapest call that proves a key (nil: nothing to check).
    static var modelsPath: String? { get }
    /// Whether a version segment the client's path starts with is the version to call, replacing the one the
    /// config's base ends with (Gemini: Google's SDKs choose `v1` or `v1beta` per call; google-genai 3.x says `v1`).
    static var clientPicksVersion: Bool { get }
    /// Path fragments only this provider's API has (`:generateContent`, a path ending in `/messages`): with its
    /// credential and version headers, how a request shows which SDK sent it before any config is known.
    static var pathMarks: (containing: [String], endingWith: [String]) { get }

    /// The verdict of this provider's error codes, or nil when they say nothing the status does not.
    ///
    /// A verdict that benches a key (invalid, exhausted, rate limited) rests only on what the provider writes and the
    /// client cannot: its status, error codes, types, reasons and quota ids. The message may echo the request (a model
    /// name, a JSON field, an `anthropic-beta` value), so it may only lessen blame: "the request's doing; another key
    /// may serve it", which benches no key.
    static func judge(status: Int, error: ProviderError) -> (blame: AnswerBlame, reason: String)?
    /// Whether the limit behind a rate-limit or quota answer is per model (the key then rests for the request's model
    /// only). A key's money (`insufficient_quota`, `billing_error`, a spend limit) is the whole key's.
    static func limitIsPerModel(_ blame: AnswerBlame, error: ProviderError?) -> Bool
    /// The rate-limit headers that say a request alone is larger than the key's per-minute tokens: the token
    /// buckets' names with `%@` for `limit`/`remaining`, and the header of the requests still allowed.
    static var tokenLimitHeaders: (buckets: [String], requestsRemaining: String)? { get }
}

/// Where a request names its model (per-model rests are scoped to it).
public enum ModelPlace: Sendable {
    /// `/models/{model}:verb` (Gemini).
    case path
    /// The JSON body's top-level `"model"`.
    case body
    case none
}

extension UpstreamProvider {
    public static var clientKeyHeaders: [String] { [] }
    public static var credentialQueryNames: Set<String> { [] }
    public static var versionHeader: (name: String, value: String)? { nil }
    public static var ownHeaders: [String] { [] }
    public static var clientPicksVersion: Bool { false }
    public static var tokenLimitHeaders: (buckets: [String], requestsRemaining: String)? { nil }
    public static var pathMarks: (containing: [String], endingWith: [String]) { ([], []) }

    /// Whether the request carries something only this provider's SDKs send: its key header or query parameter, its
    /// version header, or one of its path marks.
    public static func marksRequest(headers: HTTPHeaders, path: Substring, query: String?) -> Bool {
        if clientKeyHeaders.contains(where: { headers.contains(name: $0) }) { return true }
        if let versionHeader, headers.contains(name: versionHeader.name) { return true }
        if credentialQueryNames.contains(where: { QueryString.value(of: $0, in: query) != nil }) { return true }
        let marks = pathMarks
        return marks.containing.contains { path.contains($0) } || marks.endingWith.contains { path.hasSuffix($0) }
    }
    public static func limitIsPerModel(_ blame: AnswerBlame, error: ProviderError?) -> Bool { false }

    /// A 429 whose token bucket is full while requests remain: the request alone is larger than the key's per-minute
    /// token limit. Waiting does not help this key; a key of a higher tier may serve it. Read from the provider's
    /// headers, which the client cannot write.
    public static func requestExceedsTokenLimit(headers: HTTPHeaders) -> Bool {
        guard let (buckets, requestsRemaining) = tokenLimitHeaders else { return false }
        func number(_ name: String) -> Double? { headers.first(name: name).flatMap { PlainNumber.parse($0) } }
        if let requests = number(requestsRemaining), requests < 1 { return false }
        return buckets.contains { pattern in
            guard let limit = number(pattern.replacingOccurrences(of: "%@", with: "limit")),
                let remaining = number(pattern.replacingOccurrences(of: "%@", with: "remaining"))
            else { return false }
            return limit > 0 && remaining >= limit
        }
    }

    /// The key check's request: path, and the headers with the key where this provider takes it.
    public static func probe(secret: String) -> (path: String, headers: HTTPHeaders)? {
        guard let modelsPath, let keyHeader else { return nil }
        var headers = HTTPHeaders()
        headers.add(name: keyHeader.name, value: keyHeader.bearer ? "Bearer \(secret)" : secret)
        if let versionHeader { headers.add(name: versionHeader.name, value: versionHeader.value) }
        return (modelsPath, headers)
    }
}
