import Foundation
import NIOCore
import NIOHTTP1
import RotatorCore
import UpstreamProviders

/// Finds the proxy key a client presented, in the places its SDK puts one.
public enum ClientCredential {
    /// - Returns: the credential presented in the request head, or nil when the head carries none.
    public static func find(in headers: HTTPHeaders, query: String?, format: APIFormat, route: ProxyRouteKind) -> String? {
        if let key = anyFormat(headers) { return key }
        guard route == .llm else { return nil }
        return providerPlaces(headers, query: query, UpstreamDialect(format: format).provider)
    }

    /// A credential in any place some client SDK puts one, whatever the config: what the gate checks before it
    /// looks the slug up, so an invalid key gets the same 401 from every slug.
    public static func findAnywhere(in headers: HTTPHeaders, query: String?, route: ProxyRouteKind) -> String? {
        if let key = anyFormat(headers) { return key }
        guard route == .llm else { return nil }
        for dialect in dialects {
            if let key = providerPlaces(headers, query: query, dialect.provider) { return key }
        }
        return nil
    }

    private static let dialects = UpstreamDialect.allCases

    /// `X-Proxy-Key` and a Bearer token: every format's clients may use them.
    private static func anyFormat(_ headers: HTTPHeaders) -> String? {
        if let proxyKey = headers.first(name: "x-proxy-key"), !proxyKey.isEmpty { return proxyKey }
        if let authorization = headers.first(name: "authorization"), let token = bearerToken(authorization) { return token }
        return nil
    }

    /// The places only this provider's SDKs use (`x-api-key`, `x-goog-api-key`, `?key=`).
    private static func providerPlaces(_ headers: HTTPHeaders, query: String?, _ provider: any UpstreamProvider.Type) -> String? {
        for name in provider.clientKeyHeaders {
            if let key = headers.first(name: name), !key.isEmpty { return key }
        }
        for name in provider.credentialQueryNames {
            if let key = QueryString.value(of: name, in: query), !key.isEmpty { return key }
        }
        return nil
    }

    private static let bearerPrefix = Array("bearer ".utf8)

    static func bearerToken(_ value: String) -> String? {
        let utf8 = value.utf8
        guard utf8.count > 7, HeaderNameSet.hasPrefixIgnoringASCIICase(value, bearerPrefix) else { return nil }
        let token = Substring(utf8.dropFirst(7)).trimmingSpaces()
        return token.isEmpty ? nil : token
    }

    /// Removes `"api_key"` from a JSON body (some SDKs send the key there); the body is only re-encoded when present.
    /// Read only after the head passed every other check and the body is within `MAX_BODY_BYTES`.
    public static func extractBodyAPIKey(from body: ByteBuffer) -> (key: String, body: ByteBuffer)? {
        guard body.readableBytes > 0, ByteSearch.contains(body, "\"api_key\""),
            var object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any],
            let key = object.removeValue(forKey: "api_key") as? String,
            let data = try? JSONSerialization.data(withJSONObject: object)
        else { return nil }
        return (key, ByteBuffer(bytes: data))
    }
}

/// Plain byte search (memchr for the first byte, memcmp for the rest): the generic `firstRange(of:)` costs more than
/// it should on a request path.
enum ByteSearch {
    static func contains(_ buffer: ByteBuffer, _ needle: StaticString) -> Bool {
        let length = needle.utf8CodeUnitCount
        guard length > 0 else { return true }
        let first = Int32(needle.utf8Start.pointee)
        return buffer.withUnsafeReadableBytes { haystack in
            guard let base = haystack.baseAddress, haystack.count >= length else { return false }
            var offset = 0
            while offset <= haystack.count - length {
                guard let hit = memchr(base + offset, first, haystack.count - length - offset + 1) else { return false }
                if memcmp(hit, needle.utf8Start, length) == 0 { return true }
                offset = base.distance(to: UnsafeRawPointer(hit)) + 1
            }
            return false
        }
    }
}
