/// Which address a request comes from, for login throttling: the peer's, unless the peer is one of the
/// `TRUSTED_PROXIES`; then `X-Forwarded-For` is read from the right (each proxy appends the address it saw)
/// and the first hop that is not a trusted proxy is the client. A client cannot pick its address by sending
/// the header itself: whatever it wrote stands left of what the trusted proxies appended.
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [IPNetwork]

    public init(trustedProxies: [IPNetwork] = []) {
        self.trustedProxies = trustedProxies
    }

    /// - Parameters:
    ///   - peer: the connection's remote address as text (nil for a Unix socket).
    ///   - forwardedFor: every `X-Forwarded-For` field value, in order.
    public func clientAddress(peer: String?, forwardedFor: [String]) -> String {
        guard let peer else { return "unknown" }
        guard isTrusted(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { String($0).trimmingASCIIWhitespace() }
        var client = peer
        for hop in hops.reversed() {
            // A hop that is not an address cannot be told apart from a client's invention: stop at the last
            // address a trusted proxy vouched for.
            guard IPNetwork.addressBytes(hop) != nil else { return client }
            client = hop
            if !isTrusted(hop) { return hop }
        }
        return client
    }

    func isTrusted(_ address: String) -> Bool {
        guard !trustedProxies.isEmpty, let bytes = IPNetwork.addressBytes(address) else { return false }
        return trustedProxies.contains { $0.contains(bytes) }
    }
}
