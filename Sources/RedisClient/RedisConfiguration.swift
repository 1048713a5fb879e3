/// Where and how to reach Redis.
public struct RedisConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var password: String?
    /// Redis 6 ACL user; `AUTH user password` when set, `AUTH password` otherwise.
    public var username: String?
    /// `SELECT` on every (re)connect when not 0.
    public var database: Int
    public var connectTimeout: Duration
    /// How long one command may wait for its reply before the connection is presumed dead.
    public var commandTimeout: Duration
    public var reconnectBackoff: ReconnectBackoff
    /// TLS (`rediss://`); nil: plain TCP.
    public var tls: RedisTLS?

    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        password: String? = nil,
        username: String? = nil,
        database: Int = 0,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(1),
        reconnectBackoff: ReconnectBackoff = ReconnectBackoff(),
        tls: RedisTLS? = nil
    ) {
        self.host = host
        self.port = port
        self.password = password
        self.username = username
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.reconnectBackoff = reconnectBackoff
        self.tls = tls
    }

    public struct InvalidURL: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Parses `redis[s]://[[user]:password@]host[:port][/db]`; `rediss://` turns TLS on (with the system's trust
    /// roots; set `tls` for a private CA or a client certificate). The password never appears in error messages.
    public init(url: String) throws(InvalidURL) {
        self.init()
        let lowercased = url.lowercased()
        let scheme = lowercased.hasPrefix("rediss://") ? "rediss://" : "redis://"
        guard lowercased.hasPrefix(scheme) else {
            throw InvalidURL(description: "REDIS_URL must start with redis:// or rediss:// (TLS)")
        }
        if scheme == "rediss://" { tls = RedisTLS() }
        var rest = Substring(url.dropFirst(scheme.count))
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = Self.percentDecoded(credentials[..<colon])
                username = user.isEmpty ? nil : user
                password = Self.percentDecoded(credentials[credentials.index(after: colon)...])
            } else if !credentials.isEmpty {
                // `redis://secret@host` is the common shorthand for a password without a user.
                password = Self.percentDecoded(credentials)
            }
            if password?.isEmpty == true { password = nil }
        }
        var hostPort = rest
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let number = Int(db), number >= 0 else {
                    throw InvalidURL(description: "REDIS_URL: database must be a number, got '\(db)'")
                }
                database = number
            }
        }
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                guard let number = Int(after.dropFirst()), (1...65535).contains(number) else {
                    throw InvalidURL(description: "REDIS_URL: invalid port '\(after.dropFirst())'")
                }
                port = number
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            let portText = hostPort[hostPort.index(after: colon)...]
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw InvalidURL(description: "REDIS_URL: invalid port '\(portText)'")
            }
            port = number
        } else {
            host = String(hostPort)
        }
        if host.isEmpty { host = "127.0.0.1" }
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension RedisConfiguration: CustomStringConvertible {
    /// For logs: no password.
    public var description: String {
        "\(tls == nil ? "redis" : "rediss")://\(password == nil ? "" : "***@")\(host):\(port)/\(database)"
    }
}
