/// The answer to one login attempt before its password is compared.
public enum LoginAdmission: Sendable, Equatable {
    case allowed
    /// Allowed after a short wait: the user name is under attack from many addresses. The right password still
    /// gets in; only guessing slows down.
    case slowed(delay: Double)
    /// Refused without comparing: this address has failed too often for this user name.
    case throttled(retryAfter: Double)
}
