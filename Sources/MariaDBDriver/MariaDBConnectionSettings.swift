/// Where and how to connect to a MariaDB or MySQL server.
///
/// The timeouts bound every blocking call: a server that stops answering (stopped process, dropped network)
/// makes the call fail with `SQLError.Category.unavailable` after about `readTimeout` (or `connectTimeout`
/// while connecting) instead of hanging. libmariadb counts them in whole seconds, so each is rounded up to
/// at least one second. A statement that legitimately runs longer than `readTimeout` fails too.
public struct MariaDBConnectionSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var database: String
    public var connectTimeout: Duration
    public var readTimeout: Duration
    public var writeTimeout: Duration
    /// TLS mode and files; `preferred` by default.
    public var tls: MariaDBTLS

    public init(
        host: String = "127.0.0.1",
        port: Int = 3306,
        user: String,
        password: String = "",
        database: String,
        connectTimeout: Duration = .seconds(5),
        readTimeout: Duration = .seconds(10),
        writeTimeout: Duration = .seconds(10),
        tls: MariaDBTLS = MariaDBTLS()
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
        self.tls = tls
    }
}

extension MariaDBConnectionSettings: CustomStringConvertible {
    /// For logs and errors: never shows the password.
    public var description: String {
        "\(user)@\(host):\(port)/\(database)"
    }
}

extension Duration {
    /// Whole seconds, rounded up, at least one: the unit libmariadb's timeout options take.
    var wholeSecondsRoundedUp: UInt32 {
        let (seconds, attoseconds) = components
        let rounded = seconds + (attoseconds > 0 ? 1 : 0)
        return UInt32(clamping: max(1, rounded))
    }
}
