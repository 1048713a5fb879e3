import RequestIdentity
import RotatorHTTP
import Testing

@Suite struct ClientAddressResolverTests {
    static let proxies = ["10.0.0.0/8", "127.0.0.1", "fd00::/8"].compactMap { IPNetwork(cidr: $0) }

    @Test func parsesNetworks() {
        #expect(Self.proxies.count == 3)
        for bad in ["", "10.0.0.0/33", "10.0.0/8", "::1/129", "example.com", "10.0.0.1/", "10.0.0.1/-1", "1.2.3.4/ 8"] {
            #expect(IPNetwork(cidr: bad) == nil, "\(bad)")
        }
        let network = IPNetwork(cidr: "192.168.4.0/22")
        #expect(network?.contains(IPNetwork.addressBytes("192.168.7.255")!) == true)
        #expect(network?.contains(IPNetwork.addressBytes("192.168.8.0")!) == false)
        #expect(IPNetwork(cidr: "::ffff:10.1.2.3/128") == IPNetwork(cidr: "10.1.2.3"), "IPv4-mapped IPv6 is IPv4")
    }

    @Test func theHeaderCountsOnlyFromATrustedPeer() {
        let resolver = ClientAddressResolver(trustedProxies: Self.proxies)
        #expect(resolver.clientAddress(peer: "198.51.100.9", forwardedFor: ["203.0.113.1"]) == "198.51.100.9")
        #expect(resolver.clientAddress(peer: "10.1.1.1", forwardedFor: ["203.0.113.1"]) == "203.0.113.1")
        #expect(resolver.clientAddress(peer: "10.1.1.1", forwardedFor: []) == "10.1.1.1")
        #expect(resolver.clientAddress(peer: nil, forwardedFor: ["203.0.113.1"]) == "unknown")
        #expect(ClientAddressResolver().clientAddress(peer: "127.0.0.1", forwardedFor: ["203.0.113.1"]) == "127.0.0.1",
                "no TRUSTED_PROXIES: the header is ignored")
    }

    /// What a client writes itself stands left of what the proxies appended: read from the right, skipping
    /// trusted hops, so the client cannot pick the address it is counted under.
    @Test func aClientCannotChooseItsAddress() {
        let resolver = ClientAddressResolver(trustedProxies: Self.proxies)
        #expect(resolver.clientAddress(peer: "10.1.1.1", forwardedFor: ["1.1.1.1, 203.0.113.5"]) == "203.0.113.5")
        #expect(resolver.clientAddress(peer: "10.1.1.1", forwardedFor: ["1.1.1.1", "203.0.113.5, 10.2.2.2"]) == "203.0.113.5")
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["not-an-ip, 10.2.2.2"]) == "10.2.2.2")
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["10.3.3.3, 10.2.2.2"]) == "10.3.3.3", "all trusted: the leftmost")
        #expect(resolver.clientAddress(peer: "fd00::1", forwardedFor: [" 2001:db8::7 "]) == "2001:db8::7")
    }
}
