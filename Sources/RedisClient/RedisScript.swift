/// A Lua script and its SHA-1, as Redis names it in its script cache.
///
/// Make one per script at start-up (a `static let`) and run it with `RedisClient.evalScript`: one `EVALSHA`
/// round trip, with `SCRIPT LOAD` only after Redis lost its script cache (restart, `SCRIPT FLUSH`).
public struct RedisScript: Sendable, Hashable {
    public let source: String
    /// Lowercase hex SHA-1 of `source`, what `SCRIPT LOAD` returns.
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(Array(source.utf8))
    }
}
