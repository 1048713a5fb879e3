import ClientAccess
import ConfigCatalog
import FormatConversion
import NIOHTTP1
import RotatorCore
import UpstreamProviders

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
        /// A body already in the client's error shape (a converting config's 404 naming its paths), sent instead of
        /// one built from `kind` and `message`.
        public var body: [UInt8]? = nil
        /// A 401 that counts towards the address's wrong-key throttle (not a known client key's refusal: no guess).
        public var countsAsWrongKey = true

        public static func == (lhs: Refusal, rhs: Refusal) -> Bool {
            lhs.status == rhs.status && lhs.kind == rhs.kind && lhs.message == rhs.message && lhs.format == rhs.format && lhs.body == rhs.body
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
        /// The client key a head credential authenticated (nil: an operator key, or a key still expected in the body).
        public internal(set) var clientKey: ClientKey?
        /// The upstream request target (path and query, without any injected key); a converted chat call sets it
        /// once its body is converted.
        public internal(set) var upstreamPath: String
        public internal(set) var upstreamQuery: String?
        /// Set when the config's clients speak another format than its upstream.
        var conversion: ProxyConversion?
    }

    public enum Decision: Sendable {
        case refuse(Refusal)
        /// No key in the head, and the key may be in the JSON body: read the body (within `MAX_BODY_BYTES`), then
        /// answer this refusal if the body holds a valid proxy key and the 401 otherwise. What the head says about
        /// the slug (unknown, inactive, another type) is told only to a client that holds a proxy key.
        case refuseUnlessBodyKey(Refusal)
        case admit(Admission)
    }

    public static func evaluate(
        head: HTTPRequestHead, route: ProxyRoute, catalogLoaded: Bool, pool: ServingPool?, proxyKeys: [String], maxBodyBytes: Int,
        clientKeys: ClientKeyRegistry? = nil, secretMemo: PresentedSecretMemo? = nil
    ) -> Decision {
        let defaultFormat: APIFormat? = route.kind == .llm ? .openAICompatible : nil
        if head.method == .TRACE || head.method == .CONNECT {
            // TRACE would have an echoing upstream hand back the request with the injected key; CONNECT asks for a tunnel.
            return .refuse(Refusal(status: .methodNotAllowed, kind: .invalidRequest,
                                   message: "\(head.method.rawValue) is not served on proxy routes", format: defaultFormat,
                                   extraHeaders: [("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")]))
        }
        guard catalogLoaded else {
            return .refuse(Refusal(status: .serviceUnavailable, kind: .upstreamUnavailable,
                                   message: "this node has not loaded its configuration yet; retry shortly", format: defaultFormat,
                                   extraHeaders: [("Retry-After", "1")]))
        }
        // Until a proxy key is verified, every answer is the same for every slug, known or not: its shape comes from
        // the request alone, and nothing about the config is looked at. (Built only when refused: judging the dialect
        // the request speaks costs header and path scans a verified request does not need.)
        let headerKeyIsValid: Bool
        // A credential that is no operator key may be a client key (one keyed hash; operator keys never pay for it).
        var identified: (secret: String, identity: ClientIdentity)?
        if let presented = ClientCredential.findAnywhere(in: head.headers, query: route.query, route: route.kind) {
            if !ConstantTime.matchesAny(presented, of: proxyKeys) {
                let identity = clientKeys?.identify(secret: presented, memo: secretMemo) ?? .unknown
                identified = (presented, identity)
                switch identity {
                case .key: break
                case .refused(let reason): return .refuse(refusedClientKey(reason, format: requestDialect(head: head, route: route)))
                case .unknown: return .refuse(unauthorized(head: head, route: route))
                }
            }
            headerKeyIsValid = true
        } else {
            guard route.kind == .llm, head.method != .GET, head.method != .HEAD else { return .refuse(unauthorized(head: head, route: route)) }
            // The key may be in the body: only a small one is read before anything is authenticated.
            if let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > min(maxBodyBytes, bodyKeyMaxBytes) {
                return .refuse(tooLargeForBodyKey(maxBodyBytes, format: requestDialect(head: head, route: route)))
            }
            headerKeyIsValid = false
        }
        let slugRefusal: (Refusal) -> Decision = { headerKeyIsValid ? .refuse($0) : .refuseUnlessBodyKey($0) }
        guard let pool else {
            return slugRefusal(Refusal(status: .notFound, kind: .notFound, message: "no proxy config with slug '\(route.slug)'", format: defaultFormat))
        }
        let config = pool.config
        let pair = ProxyConversion.pair(for: config, route: route.kind)
        // The client's format decides where its SDK puts the credential and how errors look.
        let clientFormat = pair?.client.errorShapeFormat ?? config.apiFormat
        let format: APIFormat? = route.kind == .llm ? clientFormat : nil
        guard config.isActive else {
            return slugRefusal(Refusal(status: .notFound, kind: .notFound, message: "proxy config '\(route.slug)' is inactive", format: format))
        }
        guard config.configType == route.kind.configType else {
            let other: ProxyRouteKind = route.kind == .llm ? .generic : .llm
            return slugRefusal(Refusal(status: .notFound, kind: .notFound,
                                       message: "proxy config '\(route.slug)' is a \(config.configType.rawValue) config: call it at /\(other.pathPrefix)/\(route.slug)/...",
                                       format: format))
        }
        if route.kind == .generic, let allowed = config.method?.uppercased(), !allowed.isEmpty, allowed != "ANY", allowed != head.method.rawValue {
            return .refuse(Refusal(status: .methodNotAllowed, kind: .invalidRequest, message: "proxy config '\(route.slug)' accepts \(allowed) only",
                                   format: nil, extraHeaders: [("Allow", allowed)]))
        }
        let unauthorized = Refusal(status: .unauthorized, kind: .authentication, message: "missing or invalid proxy key", format: format)
        let credential: Credential
        var clientKey: ClientKey?
        var clientSecret: String?
        if let presented = ClientCredential.find(in: head.headers, query: route.query, format: clientFormat, route: route.kind) {
            if !ConstantTime.matchesAny(presented, of: proxyKeys) {
                let identity = identified?.secret == presented ? identified!.identity : clientKeys?.identify(secret: presented, memo: secretMemo) ?? .unknown
                switch identity {
                case .key(let key):
                    guard key.allows(config: config.slug) else { return .refuse(configNotAllowed(key, slug: config.slug, format: format)) }
                    clientKey = key
                    clientSecret = presented
                case .refused(let reason): return .refuse(refusedClientKey(reason, format: format))
                case .unknown: return .refuse(unauthorized)
                }
            }
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
        if let pair {
            return admitConverted(pair: pair, head: head, route: route, pool: pool, target: target, credential: credential, clientKey: clientKey,
                                  format: format)
        }
        let injection = KeyInjection(config: config, route: route.kind)
        // The client's proxy key (or client key) leaves no trace upstream, whatever query parameter carried it.
        let presentedKeys = clientSecret.map { proxyKeys + [$0] } ?? proxyKeys
        let query = QueryString.removingValues(matchingAnyOf: presentedKeys, from: QueryString.removing(injection.queryNamesToDrop, from: route.query))
        let path: String
        do {
            path = try UpstreamURLBuilder.buildPath(target: target, rest: route.rest, clientPicksVersion: route.kind == .llm && UpstreamDialect(format: config.apiFormat).provider.clientPicksVersion)
        } catch {
            return .refuse(Refusal(status: .badRequest, kind: .invalidRequest,
                                   message: "path segments '.' and '..' and malformed percent-encoding are not allowed", format: format))
        }
        let baseQueries = [target.baseQuery, query].compactMap { $0 }.filter { !$0.isEmpty }
        return .admit(Admission(pool: pool, target: target, format: format, credential: credential, clientKey: clientKey, upstreamPath: path,
                                upstreamQuery: baseQueries.isEmpty ? nil : baseQueries.joined(separator: "&")))
    }

    /// A converting config: the client's path decides the call (any other path is a 404 naming the ones that work);
    /// the upstream path follows from the call, never from the client's path or query.
    private static func admitConverted(
        pair: FormatPair, head: HTTPRequestHead, route: ProxyRoute, pool: ServingPool, target: UpstreamTarget, credential: Credential,
        clientKey: ClientKey?, format: APIFormat?
    ) -> Decision {
        let clientPath = route.query.map { String(route.rest) + "?" + $0 } ?? String(route.rest)
        let call: ProxyConversion.Call
        switch ClientRoute.resolve(outputFormat: pair.client, method: head.method.rawValue, path: clientPath) {
        case .notFound(let body):
            return .refuse(Refusal(status: .notFound, kind: .notFound, message: "no such path for this config", format: format, body: body))
        case .chat(let chat):
            call = .chat(chat)
        case .listModels:
            call = .listModels
        }
        let upstream = ProxyConversion.upstreamTarget(target, path: call == .listModels ? pair.upstreamModelsPath : "/")
        return .admit(Admission(pool: pool, target: target, format: format, credential: credential, clientKey: clientKey,
                                upstreamPath: upstream.path, upstreamQuery: upstream.query,
                                conversion: ProxyConversion(pair: pair, models: pool.config.modelMapping, call: call)))
    }

    /// The 401 of a request without a valid proxy key. Its shape is the dialect the request itself speaks (its path
    /// and credential headers), never the config's: known and unknown slugs answer alike.
    public static func unauthorized(head: HTTPRequestHead, route: ProxyRoute) -> Refusal {
        Refusal(status: .unauthorized, kind: .authentication, message: "missing or invalid proxy key", format: requestDialect(head: head, route: route))
    }

    /// The 401 of a secret that is a client key's, refused (revoked, disabled, expired, rotated): it says which. Only a
    /// secret whose keyed hash matched a client key gets it; any other wrong key gets the uniform 401.
    public static func refusedClientKey(_ reason: ClientKeyRefusal, format: APIFormat?) -> Refusal {
        Refusal(status: .unauthorized, kind: .authentication, message: reason.message, format: format, countsAsWrongKey: false)
    }

    /// The 403 of a client key whose `allowed_configs` lacks this config.
    public static func configNotAllowed(_ key: ClientKey, slug: String, format: APIFormat?) -> Refusal {
        let allowed = key.allowedConfigs?.joined(separator: ", ") ?? ""
        return Refusal(status: .forbidden, kind: .permission,
                       message: "client key '\(key.name)' may not use proxy config '\(slug)' (its allowed_configs: \(allowed.isEmpty ? "none" : allowed))",
                       format: format)
    }

    /// The 403 of a model the client key may not name (nil: allowed). A model list applies to LLM configs only
    /// (generic configs name no model); a request naming no model passes only when it reads (GET/HEAD: a model list).
    public static func modelRefusal(_ key: ClientKey, model: String?, method: HTTPMethod, route: ProxyRouteKind, format: APIFormat?) -> Refusal? {
        guard route == .llm, let patterns = key.allowedModels, !key.allows(model: model) else { return nil }
        if model == nil, method == .GET || method == .HEAD { return nil }
        let rule = "its allowed_models: " + (patterns.isEmpty ? "none" : patterns.map(\.description).joined(separator: ", "))
        let message = model.map { "client key '\(key.name)' may not use model '\($0)' (\(rule))" }
            ?? "client key '\(key.name)' may only name the models on its list, and this request names none (\(rule))"
        return Refusal(status: .forbidden, kind: .permission, message: message, format: format)
    }

    /// The 429 of a client key's limit: which, its value, and when it frees (`Retry-After` when waiting helps).
    public static func quotaRefusal(keyName: String, limit: QuotaLimit, value: Int64, retryAfter: Double?, format: APIFormat?) -> Refusal {
        let unit = limit.countsTokens ? "tokens" : limit == .concurrent ? "requests in flight" : "requests"
        var message = "client key '\(keyName)' reached its \(limit.rawValue) limit of \(value) \(unit)"
        var headers: [(String, String)] = []
        if let retryAfter {
            let seconds = max(Int(retryAfter.rounded(.up)), 1)
            message += limit == .concurrent ? "; retry when one of its requests ends" : "; \(limit.countsTokens ? "tokens free" : "a request frees") in \(seconds) s"
            headers.append(("Retry-After", String(seconds)))
        } else {
            message += "; it frees when its window resets (UTC \(limit == .monthlyRequests || limit == .monthlyTokens ? "month" : "day"))"
        }
        return Refusal(status: .tooManyRequests, kind: .rateLimited, message: message, format: format, extraHeaders: headers)
    }

    /// The LLM dialect a request speaks, judged from the request alone; nil on generic routes (plain JSON errors).
    static func requestDialect(head: HTTPRequestHead, route: ProxyRoute) -> APIFormat? {
        guard route.kind == .llm else { return nil }
        return UpstreamDialect.spoken(headers: head.headers, path: route.rest, query: route.query).format
    }

    /// The most of a body read before its proxy key (in its JSON `api_key`) is checked: a few unauthenticated
    /// requests must not make the node hold megabytes. Larger bodies send the key in a header.
    public static let bodyKeyMaxBytes = 64 * 1024

    /// The 413 of a body over `bodyKeyMaxBytes` whose head carries no proxy key.
    public static func tooLargeForBodyKey(_ maxBodyBytes: Int, format: APIFormat?) -> Refusal {
        guard bodyKeyMaxBytes < maxBodyBytes else { return tooLarge(maxBodyBytes, format: format) }
        return Refusal(status: .payloadTooLarge, kind: .tooLarge,
                       message: "a request whose proxy key is in its JSON body may be at most \(bodyKeyMaxBytes) bytes; send the key in a header (Authorization: Bearer, or your SDK's key header) for larger bodies",
                       format: format)
    }

    public static func tooLarge(_ limit: Int, format: APIFormat?) -> Refusal {
        Refusal(status: .payloadTooLarge, kind: .tooLarge, message: "request body exceeds \(limit) bytes (MAX_BODY_BYTES)", format: format)
    }
}
