/// What attempts are counted by. Addresses and user names are cut to a bounded length: only the configured user
/// can ever succeed, and a client must not grow the records by sending long ones.
public enum LoginSubject: Hashable, Sendable {
    /// One user name from one client address: the lock that refuses. Keyed by both, so a stranger guessing from
    /// elsewhere cannot lock the real admin out.
    case client(address: String, username: String)
    /// One user name from every address together: slows guessing spread over many addresses, never refuses.
    case user(String)

    public static let maximumLength = 256

    public var key: String {
        switch self {
        case .client(let address, let name): return "client:" + address.prefix(64) + "|" + Self.bounded(name)
        case .user(let name): return "user:" + Self.bounded(name)
        }
    }

    private static func bounded(_ name: String) -> String {
        String(decoding: name.utf8.prefix(Self.maximumLength), as: UTF8.self)
    }
}
