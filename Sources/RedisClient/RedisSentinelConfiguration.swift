/// How to find the master through Redis Sentinel: the Sentinels to ask and the name they monitor the master under.
public struct RedisSentinelConfiguration: Sendable, Equatable {
    public var sentinels: [RedisEndpoint]
    public var masterName: String
    /// `AUTH` on Sentinel connections (Sentinel's own `requirepass`), apart from the master's password.
    public var password: String?
    public var username: String?

    public init(sentinels: [RedisEndpoint], masterName: String, password: String? = nil, username: String? = nil) {
        self.sentinels = sentinels
        self.masterName = masterName
        self.password = password
        self.username = username
    }
}

extension RedisSentinelConfiguration: CustomStringConvertible {
    /// For logs: no password.
    public var description: String {
        "sentinel \(masterName)@\(sentinels.map(\.description).joined(separator: ","))\(password == nil ? "" : " (auth)")"
    }
}
