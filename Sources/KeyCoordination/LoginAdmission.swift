/// The answer to one login attempt before its password is compared.
public enum LoginAdmission: Sendable, Equatable {
    case allowed
    case throttled(retryAfter: Double)
}
