/// How many attempts are free, how long locks grow, how long attempts are remembered.
public struct LoginThrottlePolicy: Sendable, Equatable {
    /// Attempts one address may make for one user name before it has to wait (and is refused meanwhile).
    public var freeAttemptsPerClient: Int
    /// Attempts one user name may get from all addresses together (a guess spread over many addresses) before
    /// every further attempt for it is slowed down.
    public var freeAttemptsPerUser: Int
    public var maximumLockSeconds: Double
    /// The longest a user name's own limit holds one attempt back: a delay, never a refusal, so a stranger can
    /// slow the real admin's login down but never lock it out.
    public var maximumUserDelaySeconds: Double
    /// Attempts older than this are forgotten.
    public var memorySeconds: Double

    public init(
        freeAttemptsPerClient: Int = 5, freeAttemptsPerUser: Int = 20, maximumLockSeconds: Double = 300, maximumUserDelaySeconds: Double = 2,
        memorySeconds: Double = 900
    ) {
        self.freeAttemptsPerClient = freeAttemptsPerClient
        self.freeAttemptsPerUser = freeAttemptsPerUser
        self.maximumLockSeconds = maximumLockSeconds
        self.maximumUserDelaySeconds = maximumUserDelaySeconds
        self.memorySeconds = memorySeconds
    }

    public static let standard = LoginThrottlePolicy()

    /// The lock that refuses (address and user name) and the limit that slows (user name alone).
    public func subjects(address: String, username: String) -> (client: LoginSubject, user: LoginSubject) {
        (.client(address: address, username: username), .user(username))
    }

    /// The decision both limiters make from the two records' waits before the attempt is counted.
    public func admission(clientWait: Double?, userWait: Double?) -> LoginAdmission {
        if let clientWait { return .throttled(retryAfter: clientWait) }
        if let userWait { return .slowed(delay: min(userWait, maximumUserDelaySeconds)) }
        return .allowed
    }
}
