import NIOHTTP1
import RotatorCore

/// Where the real upstream key goes: the native header of the LLM format, or the generic config's
/// header/query parameter.
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
        switch route {
        case .llm:
            switch config.apiFormat {
            case .openAICompatible: placement = .header(name: "Authorization", bearer: true)
            case .anthropicNative: placement = .header(name: "x-api-key", bearer: false)
            case .geminiNative: placement = .header(name: "x-goog-api-key", bearer: false)
            }
            queryNamesToDrop = config.apiFormat == .geminiNative ? ["key"] : []
            headerToDrop = nil
        case .generic:
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
