import Foundation

/// A config's upstream base URL, parsed once when the config is cached: requests only ever go to this
/// scheme, host and port, whatever path a client sends.
public struct UpstreamTarget: Sendable, Equatable {
    public let scheme: String
    public let host: String
    public let port: Int?
    /// Percent-encoded path segments of the base (`/api/v1` -> ["api", "v1"]).
    public let baseSegments: [String]
    /// Raw query of the base URL, kept on every request (some APIs need fixed parameters).
    public let baseQuery: String?
    /// `scheme://host[:port]`, IPv6 hosts bracketed; built once, used by every request.
    public let origin: String

    /// Parses an http(s) URL with a host; nil for anything else.
    public init?(_ string: String) {
        guard let components = URLComponents(string: string.trimmingCharacters(in: .whitespaces)),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty,
            components.user == nil, components.password == nil
        else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = components.port
        self.baseSegments = components.percentEncodedPath.split(separator: "/").map(String.init)
        self.baseQuery = components.percentEncodedQuery.flatMap { $0.isEmpty ? nil : $0 }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        self.origin = components.port.map { "\(scheme)://\(hostPart):\($0)" } ?? "\(scheme)://\(hostPart)"
    }
}
