/// What attempts are counted by. User names are cut to a bounded length: only the configured one can ever
/// succeed, and a client must not grow the records by sending long ones.
public enum LoginSubject: Hashable, Sendable {
    case address(String)
    case user(String)

    public static let maximumLength = 256

    public var key: String {
        switch self {
        case .address(let address): return "addr:" + address.prefix(Self.maximumLength)
        case .user(let name): return "user:" + String(decoding: name.utf8.prefix(Self.maximumLength), as: UTF8.self)
        }
    }
}
