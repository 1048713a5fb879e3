import AsyncHTTPClient
import ConfigCatalog
import Hummingbird
import KeyCoordination
import Logging
import NIOCore
import NIOHTTP1
import RotatorCore
import RotatorHTTP

import Foundation

/// Serves `/llm/{slug}/...` and `/proxy/{slug}/...` ahead of the router: authenticate the client, pick a key,
/// forward, rotate on 429/401/403, retry on 5xx, stream the answer back untouched.
public struct ProxyMiddleware: RouterMiddleware {
    public typealias Context = RotatorRequestContext

    private let catalog: ConfigCatalog
    private let coordinator: any KeyCoordinator
    private let httpClient: HTTPClient
    private let settings: ProxySettings
    private let metrics: ProxyMetrics

    public init(
        catalog: ConfigCatalog, coordinator: any KeyCoordinator, httpClient: HTTPClient, settings: ProxySettings,
        metrics: ProxyMetrics = ProxyMetrics()
    ) {
        self.catalog = catalog
        self.coordinator = coordinator
        self.httpClient = httpClient
        self.settings = settings
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let kind: ProxyRouteKind
        if path.hasPrefix("/llm/") {
            kind = .llm
        } else if path.hasPrefix("/proxy/") {
            kind = .generic
        } else {
            return try await next(request, context)
        }
        let afterPrefix = path.dropFirst(kind.pathPrefix.utf8.count + 2)
        let slug = afterPrefix.prefix { $0 != "/" }
        let rest = afterPrefix.dropFirst(slug.count)
        // Label metrics with configured slugs only: a client must not be able to mint label values.
        let pool = catalog.pool(slug: String(slug))
        let label = pool?.config.slug ?? "unknown"
        let format = kind == .generic ? "generic" : pool?.config.apiFormat.rawValue ?? "unknown"
        do {
            let response = try await forward(request, context: context, kind: kind, slug: String(slug), pool: pool, rest: rest)
            metrics.requestFinished(slug: label, status: Int(response.status.code), format: format)
            metrics.requestCompleted(pool: pool?.config.id, status: Int(response.status.code), fields: context.accessLogFields)
            return response
        } catch let error as APIError {
            metrics.requestFinished(slug: label, status: Int(error.status.code), format: format)
            metrics.requestCompleted(pool: pool?.config.id, status: Int(error.status.code), fields: context.accessLogFields)
            throw error
        }
    }

    private func forward(
        _ request: Request, context: Context, kind: ProxyRouteKind, slug: String, pool: ServingPool?, rest: Substring
    ) async throws -> Response {
        context.accessLogFields.update { $0.slug = slug }
        let defaultFormat: APIFormat? = kind == .llm ? .openAICompatible : nil
        guard catalog.isLoaded else {
            throw proxyError(.serviceUnavailable, .upstreamUnavailable, "this node has not loaded its configuration yet; retry shortly",
                             format: defaultFormat, headers: [.retryAfter: "1"])
        }
        guard let pool else {
            throw proxyError(.notFound, .notFound, "no proxy config with slug '\(slug)'", format: defaultFormat)
        }
        let config = pool.config
        let format: APIFormat? = kind == .llm ? config.apiFormat : nil
        guard config.isActive else {
            throw proxyError(.notFound, .notFound, "proxy config '\(slug)' is inactive", format: format)
        }
        guard config.configType == kind.configType else {
            let other: ProxyRouteKind = kind == .llm ? .generic : .llm
            throw proxyError(.notFound, .notFound, "proxy config '\(slug)' is a \(config.configType.rawValue) config: call it at /\(other.pathPrefix)/\(slug)/...", format: format)
        }
        if kind == .generic, let allowed = config.method, !allowed.isEmpty, allowed.uppercased() != "ANY",
            allowed.uppercased() != request.method.rawValue {
            throw APIError(.methodNotAllowed, "proxy config '\(slug)' accepts \(allowed.uppercased()) only", headers: [.allow: allowed.uppercased()])
        }

        var body = try await readBody(request, format: format)
        var bodyAPIKey: String?
        if kind == .llm, let extracted = Self.extractBodyAPIKey(from: body) {
            body = extracted.body
            bodyAPIKey = extracted.key
        }
        let query = request.uri.query
        guard let credential = ClientCredential.find(in: request.headers, query: query, format: config.apiFormat, route: kind, bodyAPIKey: bodyAPIKey),
            ConstantTime.matchesAny(credential, of: settings.proxyKeys)
        else {
            throw proxyError(.unauthorized, .authentication, "missing or invalid proxy key", format: format)
        }
        guard let target = pool.target else {
            throw proxyError(.badGateway, .upstreamUnavailable, "proxy config '\(slug)' has no valid target URL", format: format)
        }

        let injection = KeyInjection(config: config, route: kind)
        let upstreamQuery = QueryString.removing(injection.queryNamesToDrop, from: query)
        let baseHeaders = HeaderPolicy.upstreamHeaders(from: request.headers, requestID: context.requestID, extraRemoved: injection.headerToDrop)
        let requestBody = body
        let method = HTTPMethod(rawValue: request.method.rawValue)
        let attempt = ProxyAttempt(
            pool: pool, format: format, coordinator: coordinator, catalog: catalog, settings: settings, metrics: metrics,
            logger: context.logger, fields: context.accessLogFields
        ) { secret in
            var headers = baseHeaders
            var query = upstreamQuery
            injection.apply(secret: secret, headers: &headers, query: &query)
            let url: String
            do {
                url = try UpstreamURLBuilder.build(target: target, rest: rest, query: query)
            } catch {
                throw proxyError(.badRequest, .invalidRequest, "path segments '.' and '..' and malformed percent-encoding are not allowed", format: format)
            }
            var upstream = HTTPClientRequest(url: url)
            upstream.method = method
            upstream.headers = headers
            if requestBody.readableBytes > 0 {
                upstream.body = .bytes(requestBody)
            }
            return upstream
        }
        return try await attempt.run(using: httpClient)
    }

    private func readBody(_ request: Request, format: APIFormat?) async throws -> ByteBuffer {
        let limit = settings.maxBodyBytes
        // Built only when thrown: an error body is JSON-encoded, which costs more than the rest of a request's path.
        func tooLarge() -> APIError {
            proxyError(.contentTooLarge, .tooLarge, "request body exceeds \(limit) bytes (MAX_BODY_BYTES)", format: format)
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw tooLarge()
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge()
        }
    }

    /// Removes `"api_key"` from a JSON body (some SDKs send the key there); the body is only re-encoded when present.
    static func extractBodyAPIKey(from body: ByteBuffer) -> (key: String, body: ByteBuffer)? {
        guard body.readableBytes > 0, Self.contains(body, "\"api_key\""),
            var object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any],
            let key = object.removeValue(forKey: "api_key") as? String,
            let data = try? JSONSerialization.data(withJSONObject: object)
        else { return nil }
        return (key, ByteBuffer(bytes: data))
    }
}

extension ProxyMiddleware {
    /// A plain byte search (memchr for the first byte, memcmp for the rest): the generic `firstRange(of:)` costs more
    /// than it should on every request.
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

/// A proxy error in the client format's shape.
func proxyError(_ status: HTTPResponse.Status, _ kind: ClientErrorShape.Kind, _ message: String, format: APIFormat?, headers: HTTPFields = [:]) -> APIError {
    APIError(status, message, headers: headers, body: ClientErrorShape.body(kind: kind, status: Int(status.code), message: message, format: format))
}
