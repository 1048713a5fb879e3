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
