import HTTPTypes
import NIOHTTP1
import RotatorCore

/// Which headers cross the proxy. Hop-by-hop headers (and those the client's `Connection` names) belong to
/// one connection; every client credential is dropped so only the injected upstream key leaves the proxy.
public enum HeaderPolicy {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "expect",
    ]

    /// Every header a client may use to carry a proxy key or an upstream key.
    static let clientCredentials: Set<String> = [
        "authorization", "x-proxy-key", "x-api-key", "x-goog-api-key", "api-key", "cookie",
    ]

    /// Headers that choose which organisation or project a key's usage is billed to: a client could otherwise spend
    /// another organisation's budget through a key that belongs to several.
    static let billingSelection: Set<String> = ["openai-organization", "openai-project", "x-goog-user-project"]

    /// Headers for the upstream request: the client's end-to-end headers minus credentials,
    /// plus the request id. `extraRemoved` holds a generic config's own key header name. Billing-selection headers
    /// pass only when the config allows them (`forward_billing_headers`).
    public static func upstreamHeaders(
        from fields: HTTPFields, requestID: String, extraRemoved: String?, forwardBillingHeaders: Bool = false
    ) -> HTTPHeaders {
        let connectionListed = listedInConnection(fields)
        let extra = extraRemoved?.lowercased()
        var headers = HTTPHeaders()
        headers.reserveCapacity(fields.count + 2)
        for field in fields {
            let name = field.name.canonicalName
            if hopByHop.contains(name) || clientCredentials.contains(name) || connectionListed.contains(name) { continue }
            if name == "x-request-id" || name == extra { continue }
            if !forwardBillingHeaders, billingSelection.contains(name) { continue }
            headers.add(name: field.name.rawName, value: field.value)
        }
        headers.add(name: "X-Request-ID", value: requestID)
        return headers
    }

    /// Headers for the client's response: the upstream's end-to-end headers, scrubbed of the injected key when a
    /// scrubber is given.
    public static func clientHeaders(from headers: HTTPHeaders, keepContentLength: Bool, scrubbing scrubber: SecretScrubber? = nil) -> HTTPFields {
        var connectionListed: Set<String> = []
        for value in headers["connection"] {
            for token in value.split(separator: ",") {
                connectionListed.insert(token.trimmingSpaces().lowercased())
            }
        }
        var fields = HTTPFields()
        fields.reserveCapacity(headers.count)
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower == "content-length" {
                if keepContentLength, let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
                continue
            }
            if hopByHop.contains(lower) || connectionListed.contains(lower) { continue }
            guard let fieldName = HTTPField.Name(name) else { continue }
            fields.append(HTTPField(name: fieldName, value: scrubber?.scrub(value) ?? value))
        }
        return fields
    }

    private static func listedInConnection(_ fields: HTTPFields) -> Set<String> {
        var names: Set<String> = []
        for value in fields[values: .connection] {
            for token in value.split(separator: ",") {
                names.insert(token.trimmingSpaces().lowercased())
            }
        }
        return names
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
