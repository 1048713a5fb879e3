/// Slows down password guessing on the admin login, per client (address and user name) and per user name: after
/// a number of attempts that did not succeed, each further attempt must wait twice as long as the last (capped).
/// A client's attempts during its wait are refused; a user name's own wait only delays attempts (at most
/// `maximumUserDelaySeconds`), so guesses from elsewhere never lock the real admin out. Lightweight mode keeps
/// the records in memory; enterprise mode in Redis, so every node sees the same counts. Both pass one behaviour
/// suite.
public protocol LoginAttemptLimiter: Sendable {
    /// Checks and records one attempt in one atomic step: refused while the client is locked, slowed while the
    /// user name is; otherwise (and when slowed) it counts against both, until `succeeded` clears them. Counting
    /// before the password is compared is what keeps concurrent guesses from all passing one check.
    func admit(address: String, username: String) async -> LoginAdmission
    /// The attempt had the right password: that client and the user name start afresh.
    func succeeded(address: String, username: String) async
}
