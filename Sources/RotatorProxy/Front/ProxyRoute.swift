/// A proxy request's target as the client wrote it: `/{llm|proxy}/{slug}{rest}?{query}`.
public struct ProxyRoute: Sendable, Equatable {
    public let kind: ProxyRouteKind
    public let slug: String
    /// The raw (still percent-encoded) path after the slug, e.g. `/v1/chat/completions`.
    public let rest: Substring
    /// The raw query, without `?`.
    public let query: String?
    /// The path alone (never the query, which can hold a key): what the access log shows.
    public let path: Substring

    /// Nil when the target is not a proxy route (the admin API, the page, health and metrics answer it).
    public init?(uri: String) {
        // Decided on bytes: `?` and `/` are ASCII, so the UTF-8 indices found are valid string indices.
        let utf8 = uri.utf8
        let kind: ProxyRouteKind
        if utf8.starts(with: "/llm/".utf8) {
            kind = .llm
        } else if utf8.starts(with: "/proxy/".utf8) {
            kind = .generic
        } else {
            return nil
        }
        let questionMark = utf8.firstIndex(of: UInt8(ascii: "?"))
        let pathEnd = questionMark ?? utf8.endIndex
        let slugStart = utf8.index(utf8.startIndex, offsetBy: kind.pathPrefix.utf8.count + 2)
        let slugEnd = utf8[slugStart..<pathEnd].firstIndex(of: UInt8(ascii: "/")) ?? pathEnd
        self.kind = kind
        self.slug = String(uri[slugStart..<slugEnd])
        self.rest = uri[slugEnd..<pathEnd]
        self.query = questionMark.map { String(uri[utf8.index(after: $0)...]) }
        self.path = uri[..<pathEnd]
    }

    /// True for a target that starts with a proxy prefix, decided on bytes (every request asks this).
    public static func isProxyTarget(_ uri: String) -> Bool {
        let utf8 = uri.utf8
        return utf8.starts(with: "/llm/".utf8) || utf8.starts(with: "/proxy/".utf8)
    }
}
