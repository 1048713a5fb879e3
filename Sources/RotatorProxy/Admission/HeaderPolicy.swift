import NIOHTTP1
import RotatorCore
import UpstreamProviders

/// Which headers cross the proxy. Hop-by-hop headers (and those the client's `Connection` names) belong to
/// one connection; every client credential is dropped so only the injected upstream key leaves the proxy.
public enum HeaderPolicy {
    static let hopByHop = HeaderNameSet([
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "expect",
    ])

    /// Every header a client may use to carry a proxy key or an upstream key: the ones every SDK may send (Azure's
    /// `api-key` too), and each provider's own.
    static let clientCredentials = HeaderNameSet(
        ["authorization", "x-proxy-key", "api-key", "cookie"] + UpstreamDialect.allCases.flatMap { $0.provider.clientKeyHeaders }
    )

    /// Headers that choose which organisation or project a key's usage is billed to: a client could otherwise spend
    /// another organisation's budget through a key that belongs to several.
    static let billingSelection = HeaderNameSet(["openai-organization", "openai-project", "x-goog-user-project"])
    private static let requestID = Array("x-request-id".utf8)
    private static let contentLength = Array("content-length".utf8)
    private static let acceptEncoding = Array("accept-encoding".utf8)

    /// Headers for the upstream request: the client's end-to-end headers minus credentials, plus the request id.
    /// `extraRemoved` holds a generic config's own key header name. Billing-selection headers pass only when the
    /// config allows them (`forward_billing_headers`). The client's `Accept-Encoding` is replaced by `identity`: an
    /// answer must be read as plain bytes to be scrubbed of the key (and converted).
    public static func upstreamHeaders(
        from headers: HTTPHeaders, requestID: String, extraRemoved: String?, forwardBillingHeaders: Bool = false
    ) -> HTTPHeaders {
        let connectionListed = listedInConnection(headers)
        let extra = extraRemoved.map { Array($0.lowercased().utf8) }
        var upstream = HTTPHeaders()
        upstream.reserveCapacity(headers.count + 3)
        for (name, value) in headers {
            if hopByHop.contains(name) || clientCredentials.contains(name) { continue }
            if !connectionListed.isEmpty, connectionListed.contains(lowercased(name)) { continue }
            if HeaderNameSet.equalIgnoringASCIICase(name, Self.requestID) { continue }
            if HeaderNameSet.equalIgnoringASCIICase(name, Self.acceptEncoding) { continue }
            if let extra, HeaderNameSet.equalIgnoringASCIICase(name, extra) { continue }
            if !forwardBillingHeaders, billingSelection.contains(name) { continue }
            upstream.add(name: name, value: value)
        }
        upstream.add(name: "X-Request-ID", value: requestID)
        upstream.add(name: "Accept-Encoding", value: "identity")
        return upstream
    }

    /// Headers for the client's response: the upstream's end-to-end headers, scrubbed of the injected key when a
    /// scrubber is given (a header whose name holds the key is dropped).
    /// `room`: how many headers the caller adds afterwards (its own), so the block is allocated once.
    public static func clientHeaders(from headers: HTTPHeaders, keepContentLength: Bool, scrubbing scrubber: SecretScrubber? = nil, room: Int = 2) -> HTTPHeaders {
        let connectionListed = listedInConnection(headers)
        var client = HTTPHeaders()
        client.reserveCapacity(headers.count + room)
        for (name, value) in headers {
            if HeaderNameSet.equalIgnoringASCIICase(name, Self.contentLength) {
                if keepContentLength { client.add(name: name, value: value) }
                continue
            }
            if hopByHop.contains(name) { continue }
            if !connectionListed.isEmpty, connectionListed.contains(lowercased(name)) { continue }
            if let scrubber, scrubber.contains(name) { continue }
            client.add(name: name, value: scrubber?.scrub(value) ?? value)
        }
        return client
    }

    private static func listedInConnection(_ headers: HTTPHeaders) -> Set<String> {
        var names: Set<String> = []
        for value in headers["connection"] {
            for token in value.split(separator: ",") {
                names.insert(token.trimmingSpaces().lowercased())
            }
        }
        return names
    }

    /// Lower case without a copy for names already in lower case (HTTP/2-style clients, most SDKs).
    private static func lowercased(_ name: String) -> String {
        name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? name.lowercased() : name
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
