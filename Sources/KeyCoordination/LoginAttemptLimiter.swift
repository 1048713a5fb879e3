/// Slows down password guessing on the admin login, per client address and per user name: after a number of
/// attempts that did not succeed, each further attempt must wait twice as long as the last (capped), and
/// attempts during the wait are refused. Lightweight mode keeps the records in memory; enterprise mode in
/// Redis, so every node sees the same counts. Both pass one behaviour suite.
public protocol LoginAttemptLimiter: Sendable {
    /// Checks and records one attempt in one atomic step: refused while the address or the user is locked;
    /// otherwise it counts against both, until `succeeded` clears them. Counting before the password is
    /// compared is what keeps concurrent guesses from all passing one check.
    func admit(address: String, username: String) async -> LoginAdmission
    /// The attempt had the right password: its address and user start afresh.
    func succeeded(address: String, username: String) async
}

public enum LoginAdmission: Sendable, Equatable {
    case allowed
    case throttled(retryAfter: Double)
}

public struct LoginThrottlePolicy: Sendable, Equatable {
    /// Attempts one address may make before it has to wait.
    public var freeAttemptsPerAddress: Int
    /// Attempts one user name may get from all addresses together (a guess spread over many addresses).
    public var freeAttemptsPerUser: Int
    public var maximumLockSeconds: Double
    /// Attempts older than this are forgotten.
    public var memorySeconds: Double

    public init(freeAttemptsPerAddress: Int = 5, freeAttemptsPerUser: Int = 20, maximumLockSeconds: Double = 300, memorySeconds: Double = 900) {
        self.freeAttemptsPerAddress = freeAttemptsPerAddress
        self.freeAttemptsPerUser = freeAttemptsPerUser
        self.maximumLockSeconds = maximumLockSeconds
        self.memorySeconds = memorySeconds
    }

    public static let standard = LoginThrottlePolicy()

    /// The subjects one attempt counts against, with their allowance.
    public func subjects(address: String, username: String) -> [(subject: LoginSubject, freeAttempts: Int)] {
        [(.address(address), freeAttemptsPerAddress), (.user(username), freeAttemptsPerUser)]
    }
}

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
