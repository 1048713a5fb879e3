import ConfigCatalog
import NIOHTTP1
import RotatorCore

/// What the proxy decides from a request's head alone, before it reads any body: a request without a valid proxy
/// key, for an unknown or inactive config, too large, or with a path that could escape the configured upstream,
/// costs its head and nothing more.
public enum ProxyRequestGate {
    public struct Refusal: Sendable, Equatable {
        public var status: HTTPResponseStatus
        public var kind: ClientErrorShape.Kind
        public var message: String
        public var format: APIFormat?
        public var extraHeaders: [(String, String)] = []

        public static func == (lhs: Refusal, rhs: Refusal) -> Bool {
            lhs.status == rhs.status && lhs.kind == rhs.kind && lhs.message == rhs.message && lhs.format == rhs.format
                && lhs.extraHeaders.map { "\($0.0):\($0.1)" } == rhs.extraHeaders.map { "\($0.0):\($0.1)" }
        }
    }

    public enum Credential: Sendable, Equatable {
        /// The head carried a valid proxy key.
        case verified
        /// No key in the head: an LLM client may have put `api_key` in its JSON body, read once the body is in.
        case expectedInBody
    }

    public struct Admission: Sendable {
        public let pool: ServingPool
        public let target: UpstreamTarget
        /// The client format (nil on generic routes: errors are plain JSON).
        public let format: APIFormat?
        public let credential: Credential
        /// The upstream request target (path and query, without any injected key).
        public let upstreamPath: String
        public let upstreamQuery: String?
    }

    public enum Decision: Sendable {
        case refuse(Refusal)
        case admit(Admission)
    }

    public static func evaluate(
        head: HTTPRequestHead, route: ProxyRoute, catalogLoaded: Bool, pool: ServingPool?, proxyKeys: [String], maxBodyBytes: Int
    ) -> Decision {
        let defaultFormat: APIFormat? = route.kind == .llm ? .openAICompatible : nil
        guard catalogLoaded else {
            return .refuse(Refusal(status: .serviceUnavailable, kind: .upstreamUnavailable,
                                   message: "this node has not loaded its configuration yet; retry shortly", format: defaultFormat,
                                   extraHeaders: [("Retry-After", "1")]))
        }
        guard let pool else {
            return .refuse(Refusal(status: .notFound, kind: .notFound, message: "no proxy config with slug '\(route.slug)'", format: defaultFormat))
        }
        let config = pool.config
        let format: APIFormat? = route.kind == .llm ? config.apiFormat : nil
        guard config.isActive else {
            return .refuse(Refusal(status: .notFound, kind: .notFound, message: "proxy config '\(route.slug)' is inactive", format: format))
        }
        guard config.configType == route.kind.configType else {
            let other: ProxyRouteKind = route.kind == .llm ? .generic : .llm
            return .refuse(Refusal(status: .notFound, kind: .notFound,
                                   message: "proxy config '\(route.slug)' is a \(config.configType.rawValue) config: call it at /\(other.pathPrefix)/\(route.slug)/...",
                                   format: format))
        }
        if route.kind == .generic, let allowed = config.method?.uppercased(), !allowed.isEmpty, allowed != "ANY", allowed != head.method.rawValue {
            return .refuse(Refusal(status: .methodNotAllowed, kind: .invalidRequest, message: "proxy config '\(route.slug)' accepts \(allowed) only",
                                   format: nil, extraHeaders: [("Allow", allowed)]))
        }
        let unauthorized = Refusal(status: .unauthorized, kind: .authentication, message: "missing or invalid proxy key", format: format)
        let credential: Credential
        if let presented = ClientCredential.find(in: head.headers, query: route.query, format: config.apiFormat, route: route.kind) {
            guard ConstantTime.matchesAny(presented, of: proxyKeys) else { return .refuse(unauthorized) }
            credential = .verified
        } else if route.kind == .llm, head.method != .GET, head.method != .HEAD {
            credential = .expectedInBody
        } else {
            return .refuse(unauthorized)
        }
        if let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > maxBodyBytes {
            return .refuse(tooLarge(maxBodyBytes, format: format))
        }
        guard let target = pool.target else {
            return .refuse(Refusal(status: .badGateway, kind: .upstreamUnavailable, message: "proxy config '\(route.slug)' has no valid target URL", format: format))
        }
        let injection = KeyInjection(config: config, route: route.kind)
        let query = QueryString.removing(injection.queryNamesToDrop, from: route.query)
        let path: String
        do {
            path = try UpstreamURLBuilder.buildPath(target: target, rest: route.rest)
        } catch {
            return .refuse(Refusal(status: .badRequest, kind: .invalidRequest,
                                   message: "path segments '.' and '..' and malformed percent-encoding are not allowed", format: format))
        }
        let baseQueries = [target.baseQuery, query].compactMap { $0 }.filter { !$0.isEmpty }
        return .admit(Admission(pool: pool, target: target, format: format, credential: credential, upstreamPath: path,
                                upstreamQuery: baseQueries.isEmpty ? nil : baseQueries.joined(separator: "&")))
    }

    public static func tooLarge(_ limit: Int, format: APIFormat?) -> Refusal {
        Refusal(status: .payloadTooLarge, kind: .tooLarge, message: "request body exceeds \(limit) bytes (MAX_BODY_BYTES)", format: format)
    }
}
