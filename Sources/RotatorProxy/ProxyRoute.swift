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
        let kind: ProxyRouteKind
        let utf8 = uri.utf8
        if utf8.starts(with: "/llm/".utf8) {
            kind = .llm
        } else if utf8.starts(with: "/proxy/".utf8) {
            kind = .generic
        } else {
            return nil
        }
        let questionMark = uri.firstIndex(of: "?")
        let path = uri[..<(questionMark ?? uri.endIndex)]
        let afterPrefix = path.dropFirst(kind.pathPrefix.utf8.count + 2)
        let slug = afterPrefix.prefix { $0 != "/" }
        self.kind = kind
        self.slug = String(slug)
        self.rest = afterPrefix.dropFirst(slug.count)
        self.query = questionMark.map { String(uri[uri.index(after: $0)...]) }
        self.path = path
    }

    /// True for a target that starts with a proxy prefix, decided on bytes (every request asks this).
    public static func isProxyTarget(_ uri: String) -> Bool {
        let utf8 = uri.utf8
        return utf8.starts(with: "/llm/".utf8) || utf8.starts(with: "/proxy/".utf8)
    }
}
