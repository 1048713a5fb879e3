/// The admin API's knobs, from the environment (see `Settings` in RotatorApp).
public struct AdminSettings: Sendable {
    public var username: String
    public var password: String
    public var jwtSecret: String
    /// How long a login token stays valid.
    public var tokenLifetimeSeconds: Double
    public var publicBaseURL: String

    public init(username: String, password: String, jwtSecret: String, tokenLifetimeSeconds: Double = 24 * 3600, publicBaseURL: String) {
        self.username = username
        self.password = password
        self.jwtSecret = jwtSecret
        self.tokenLifetimeSeconds = tokenLifetimeSeconds
        self.publicBaseURL = publicBaseURL
    }
}
