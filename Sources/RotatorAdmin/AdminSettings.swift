import RequestIdentity
import RotatorHTTP

/// The admin API's knobs, from the environment (see `Settings` in RotatorApp).
public struct AdminSettings: Sendable {
    public var username: String
    public var password: String
    public var jwtSecret: String
    /// How long a login token stays valid.
    public var tokenLifetimeSeconds: Double
    public var publicBaseURL: String
    /// Tells a login's client address behind proxies (`TRUSTED_PROXIES`).
    public var clientAddresses: ClientAddressResolver

    public init(
        username: String, password: String, jwtSecret: String, tokenLifetimeSeconds: Double = 24 * 3600, publicBaseURL: String,
        clientAddresses: ClientAddressResolver = ClientAddressResolver()
    ) {
        self.username = username
        self.password = password
        self.jwtSecret = jwtSecret
        self.tokenLifetimeSeconds = tokenLifetimeSeconds
        self.publicBaseURL = publicBaseURL
        self.clientAddresses = clientAddresses
    }
}
