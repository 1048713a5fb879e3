import RotatorCore

/// Where upstream connections go (the pool's key): host, port and whether TLS is spoken.
public struct UpstreamOrigin: Hashable, Sendable {
    public let host: String
    public let port: Int
    public let usesTLS: Bool
    /// The `Host` header: the port only when it is not the scheme's default; IPv6 hosts bracketed.
    public let hostHeader: String

    public init(host: String, port: Int, usesTLS: Bool) {
        self.host = host
        self.port = port
        self.usesTLS = usesTLS
        let bracketed = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        self.hostHeader = port == (usesTLS ? 443 : 80) ? bracketed : "\(bracketed):\(port)"
    }

    public init(_ target: UpstreamTarget) {
        let tls = target.scheme == "https"
        self.init(host: target.host, port: target.port ?? (tls ? 443 : 80), usesTLS: tls)
    }

    /// IP literals get no SNI (the TLS spec allows host names only); the certificate is still checked.
    var isIPAddress: Bool {
        host.utf8.contains(UInt8(ascii: ":")) || host.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }
    }
}
