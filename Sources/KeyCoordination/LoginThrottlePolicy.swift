/// How many attempts are free, how long locks grow, how long attempts are remembered.
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
