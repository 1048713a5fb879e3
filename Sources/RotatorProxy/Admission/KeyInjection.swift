import NIOHTTP1
import RotatorCore
import UpstreamProviders

/// Where the real upstream key goes: the native header of the LLM format (its `UpstreamDialect`), or the generic
/// config's header/query parameter. Whatever goes back to the client is scrubbed of it (`SecretScrubber`).
struct KeyInjection: Sendable {
    private enum Placement: Sendable {
        case header(name: String, bearer: Bool)
        case query(name: String)
    }

    private let placement: Placement
    /// Query parameters that carried the client's credential and must not reach the upstream.
    let queryNamesToDrop: Set<String>
    /// A generic config's key header, dropped from the client's headers before injection.
    let headerToDrop: String?

    init(config: ProxyConfig, route: ProxyRouteKind) {
        let dialect = UpstreamDialect(config: config, route: route)
        if let header = dialect.keyHeader {
            placement = .header(name: header.name, bearer: header.bearer)
            queryNamesToDrop = dialect.credentialQueryNames
            headerToDrop = nil
            return
        }
        // A generic config says where its key goes.
        let name = config.apiKeyName.isEmpty ? "Authorization" : config.apiKeyName
        switch config.apiKeyLocation {
        case .header:
            placement = .header(name: name, bearer: false)
            queryNamesToDrop = []
            headerToDrop = name
        case .query:
            placement = .query(name: name)
            queryNamesToDrop = [name]
            headerToDrop = nil
        }
    }

    func apply(secret: String, headers: inout HTTPHeaders, query: inout String?) {
        switch placement {
        case .header(let name, let bearer):
            headers.replaceOrAdd(name: name, value: bearer ? "Bearer \(secret)" : secret)
        case .query(let name):
            query = QueryString.appending(name: name, value: secret, to: query)
        }
    }
}
