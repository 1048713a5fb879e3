import HTTPTypes
import RotatorCore

/// Finds the proxy key a client presented, in the places its SDK puts one.
public enum ClientCredential {
    /// - Returns: the presented credential, or nil when the client sent none.
    public static func find(
        in fields: HTTPFields, query: String?, format: APIFormat, route: ProxyRouteKind, bodyAPIKey: String?
    ) -> String? {
        if let proxyKey = fields[.proxyKey], !proxyKey.isEmpty { return proxyKey }
        if let authorization = fields[.authorization], let token = bearerToken(authorization) { return token }
        if route == .llm {
            switch format {
            case .anthropicNative:
                if let key = fields[.xAPIKey], !key.isEmpty { return key }
            case .geminiNative:
                if let key = fields[.xGoogAPIKey], !key.isEmpty { return key }
                if let key = QueryString.value(of: "key", in: query), !key.isEmpty { return key }
            case .openAICompatible:
                break
            }
            if let bodyAPIKey, !bodyAPIKey.isEmpty { return bodyAPIKey }
        }
        return nil
    }

    static func bearerToken(_ value: String) -> String? {
        guard value.count > 7, value.prefix(7).lowercased() == "bearer " else { return nil }
        let token = value.dropFirst(7).trimmingSpaces()
        return token.isEmpty ? nil : token
    }
}

extension HTTPField.Name {
    static let proxyKey = HTTPField.Name("X-Proxy-Key")!
    static let xAPIKey = HTTPField.Name("x-api-key")!
    static let xGoogAPIKey = HTTPField.Name("x-goog-api-key")!
    static let retryAfter = HTTPField.Name("Retry-After")!
}
