import Hummingbird
import Logging
import NIOCore

/// Writes one line per request once its body has been sent: method, path (never the query, which can hold
/// a key), slug, status, upstream status, key id (never the key), retries, duration.
public struct AccessLogMiddleware: RouterMiddleware {
    public typealias Context = RotatorRequestContext

    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let method = request.method.rawValue
        let path = request.uri.path
        let fields = context.accessLogFields
        let requestID = context.requestID
        let logger = self.logger
        let emit: @Sendable (Int, Bool) -> Void = { status, completed in
            guard logger.logLevel <= .info else { return }
            let values = fields.snapshot
            let elapsed = ContinuousClock.now - start
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            var metadata: Logger.Metadata = [
                "method": .string(method),
                "path": .string(path),
                "status": .stringConvertible(status),
                "duration_ms": .string(String(format: "%.2f", milliseconds)),
                "request_id": .string(requestID),
            ]
            if let slug = values.slug { metadata["slug"] = .string(slug) }
            if let upstream = values.upstreamStatus { metadata["upstream_status"] = .stringConvertible(upstream) }
            if let key = values.keyID { metadata["key_id"] = .stringConvertible(key) }
            if values.retries > 0 || values.slug != nil { metadata["retries"] = .stringConvertible(values.retries) }
            if !completed { metadata["body"] = "aborted" }
            logger.info("access", metadata: metadata)
        }
        let response = try await next(request, context)
        let status = Int(response.status.code)
        var logged = response
        let body = response.body
        logged.body = ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(writer)
                emit(status, true)
            } catch {
                emit(status, false)
                throw error
            }
        }
        return logged
    }
}
