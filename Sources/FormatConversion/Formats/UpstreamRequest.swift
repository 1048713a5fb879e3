import RotatorCore

/// A converted request, ready to send: `POST` to `path` (from the origin, query included) with `body`.
public struct UpstreamRequest: Sendable, Equatable {
    public var path: String
    public var body: [UInt8]
    public var streams: Bool
    /// Headers the upstream's format needs besides the key (`content-type`; Anthropic's `anthropic-version`).
    public var headers: [String: String]

    public init(path: String, body: [UInt8], streams: Bool, headers: [String: String] = ["content-type": "application/json"]) {
        self.path = path
        self.body = body
        self.streams = streams
        self.headers = headers
    }

    /// `path` under a config's base URL path: `/v1/messages` under `/api/v1` is `/api/v1/messages`, the base's
    /// last segment standing in for the path's first when they are equal, or both name a version (`/v1beta/...`
    /// under a Gemini base pinned to `/v1` is `/v1/...`).
    public static func join(baseSegments: [String], path: String) -> String {
        var segments = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        // `.../v1` + `/v1/messages`: one version. `.../v1` + `/v1beta/models/...`: the base's, which the operator chose.
        if let last = baseSegments.last, let first = segments.first,
            first == last || (APIVersionSegment.matches(last) && APIVersionSegment.matches(first))
        {
            segments.removeFirst()
        }
        return "/" + (baseSegments + segments).joined(separator: "/")
    }
}
