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

/// One client request's journey over the pool: pick a key, send, read the verdict, rotate or retry,
/// and finally stream the chosen answer. Nothing is retried once a byte has gone to the client.
struct ProxyAttempt {
    let pool: ServingPool
    let format: APIFormat?
    let coordinator: any KeyCoordinator
    let catalog: ConfigCatalog
    let settings: ProxySettings
    let metrics: ProxyMetrics
    let logger: Logger
    let fields: AccessLogFields
    let buildRequest: @Sendable (_ secret: String) throws -> HTTPClientRequest

    /// Error bodies are read whole (to parse reset hints, or to pass on); they are small.
    private static let errorBodyLimit = 1 << 20

    /// The last thing that went wrong, which decides the answer if no key can serve.
    private enum Failure {
        case response(status: Int, headers: HTTPHeaders, body: ByteBuffer, verdict: UpstreamVerdict)
        case transport(any Error)
        /// A 2xx answer of declared length ended (or stalled) early, before anything reached the client.
        case brokenAnswer(received: Int, declared: Int, timedOut: Bool)
    }

    /// A 2xx answer ready for the client, or one that broke off while it was read whole.
    private enum Delivery {
        case ready(Response)
        case brokeOff(received: Int, declared: Int, timedOut: Bool)
    }

    func run(using client: HTTPClient) async throws -> Response {
        let poolID = pool.config.id
        let slug = pool.config.slug
        let started = ContinuousClock.now
        let deadline = started + .milliseconds(Int64(settings.timeout * 1000))
        var secrets = pool.secrets
        // Keys the coordinator offered that this node's cache does not hold: another node has already synced a
        // newer version of the pool into the shared coordinator. Skipped for the whole request.
        var unknown = Set<Int64>()
        // Keys that failed this request, plus the unknown ones: skipped while any other key can serve it.
        var excluded = Set<Int64>()
        var refreshedCatalog = false
        var retries = 0
        var attempts = 0
        var lastFailure: Failure?

        while true {
            let keyID: Int64
            switch await coordinator.acquireKey(pool: poolID, excluding: excluded) {
            case .key(let id):
                keyID = id
            case .empty:
                return try finalAnswer(after: lastFailure, soonestFree: nil)
            case .unavailable(let wait):
                if wait <= 0, !excluded.isEmpty {
                    if excluded == unknown {
                        // Only keys this node does not know yet are free: its cache is behind the coordinator. Catch up
                        // once (a store read, only in this rare case, and never longer than the request may wait), then
                        // answer if that did not help.
                        guard !refreshedCatalog, catalog.storeReachable else {
                            throw proxyError(.serviceUnavailable, .upstreamUnavailable,
                                             "the keys of '\(slug)' are being updated on this node; retry shortly", format: format,
                                             headers: [.retryAfter: "1"])
                        }
                        refreshedCatalog = true
                        let catalog = self.catalog
                        let refresh = Task { _ = try? await catalog.refresh(configID: poolID) }
                        await Self.wait(for: refresh, atMost: min(Self.refreshWaitLimit, deadline - ContinuousClock.now))
                        if let fresher = catalog.pool(configID: poolID), fresher.routesLike(pool) {
                            secrets = fresher.secrets
                            unknown = unknown.filter { fresher.secrets[$0] == nil }
                        }
                    }
                    // Only keys that failed this request (with 5xx) are free: let them serve the retry.
                    excluded = unknown
                    continue
                }
                let remaining = deadline - ContinuousClock.now
                if wait <= settings.pacingMaxWait, .milliseconds(Int64(wait * 1000)) < remaining {
                    try await Task.sleep(for: .milliseconds(Int64((wait * 1000).rounded(.up)) + 1))
                    excluded = unknown
                    continue
                }
                return try finalAnswer(after: lastFailure, soonestFree: wait)
            }
            if secrets[keyID] == nil, let fresher = catalog.pool(configID: poolID), fresher.secrets[keyID] != nil, fresher.routesLike(pool) {
                // The catalog has caught up since this request started (and the config still points where it did).
                secrets = fresher.secrets
            }
            guard let secret = secrets[keyID] else {
                unknown.insert(keyID)
                excluded.insert(keyID)
                continue
            }
            attempts += 1
            metrics.keySelected(slug: slug)
            metrics.keyUsed(pool: poolID, key: keyID)
            if attempts > 1 { metrics.retried(slug: slug) }
            fields.update {
                $0.keyID = keyID
                $0.retries = attempts - 1
            }
            let request = try buildRequest(secret)
            let response: HTTPClientResponse
            let sent = ContinuousClock.now
            do {
                response = try await client.execute(request, deadline: .now() + .hours(24), logger: logger)
                metrics.upstreamAnswered(slug: slug, after: ContinuousClock.now - sent)
                metrics.upstreamTime(ContinuousClock.now - sent, fields: fields)
            } catch {
                await coordinator.report(.upstreamFailure(reason: "upstream unreachable: \(Self.describe(error))"), key: keyID, pool: poolID)
                metrics.upstreamFailed(pool: poolID, key: keyID)
                logger.debug("upstream transport error", metadata: ["key_id": "\(keyID)", "error": "\(Self.describe(error))"])
                lastFailure = .transport(error)
                retries += 1
                if retries > settings.maxRetries { return try finalAnswer(after: lastFailure, soonestFree: nil) }
                excluded.insert(keyID)
                continue
            }
            let status = Int(response.status.code)
            fields.update { $0.upstreamStatus = status }
            let verdict = UpstreamVerdict(status: status)
            if verdict == .deliver {
                switch await delivery(of: response, method: request.method) {
                case .ready(let answer):
                    await coordinator.report(.success, key: keyID, pool: poolID)
                    return answer
                case .brokeOff(let received, let declared, let timedOut):
                    // Nothing has reached the client: like a transport error, another key may serve the retry.
                    let reason = "answer broke off after \(received) of \(declared) bytes"
                    await coordinator.report(.upstreamFailure(reason: reason), key: keyID, pool: poolID)
                    metrics.upstreamFailed(pool: poolID, key: keyID)
                    logger.debug("upstream answer broke off", metadata: ["key_id": "\(keyID)", "received": "\(received)", "declared": "\(declared)"])
                    lastFailure = .brokenAnswer(received: received, declared: declared, timedOut: timedOut)
                    retries += 1
                    if retries > settings.maxRetries { return try finalAnswer(after: lastFailure, soonestFree: nil) }
                    excluded.insert(keyID)
                    continue
                }
            }
            let body = (try? await response.body.collect(upTo: Self.errorBodyLimit)) ?? ByteBuffer()
            lastFailure = .response(status: status, headers: response.headers, body: body, verdict: verdict)
            excluded.insert(keyID)
            switch verdict {
            case .rateLimited:
                let cooldown = RateLimitReset.seconds(headers: response.headers, body: body) ?? settings.defaultCooldown
                await coordinator.report(.rateLimited(cooldown: cooldown), key: keyID, pool: poolID)
                metrics.cooledDown(slug: slug)
                metrics.keyCooledDown(pool: poolID, key: keyID, seconds: cooldown, hinted: RateLimitReset.seconds(headers: response.headers, body: body) != nil)
                logger.debug("key cooled down", metadata: ["key_id": "\(keyID)", "seconds": "\(cooldown)"])
            case .keyRejected:
                let effect = await coordinator.report(.rejected(reason: "upstream answered \(status)"), key: keyID, pool: poolID)
                metrics.quarantined(slug: slug)
                metrics.keyRejected(pool: poolID, key: keyID, status: status, body: body.readableBytesView, secret: secret, effect: effect)
                if effect == .invalidated {
                    metrics.invalidated(slug: slug)
                    let catalog = self.catalog
                    let configID = poolID
                    Task { await catalog.invalidateKey(id: keyID, configID: configID, reason: "upstream answered \(status) repeatedly") }
                }
            case .retryableFailure:
                await coordinator.report(.upstreamFailure(reason: "upstream answered \(status)"), key: keyID, pool: poolID)
                metrics.upstreamFailed(pool: poolID, key: keyID)
                retries += 1
                if retries > settings.maxRetries { return try finalAnswer(after: lastFailure, soonestFree: nil) }
            case .deliver:
                break
            }
            // Rotating past rate-limited or rejected keys costs no retry budget, but it stops at PROXY_TIMEOUT.
            if verdict != .retryableFailure, ContinuousClock.now >= deadline {
                return try finalAnswer(after: lastFailure, soonestFree: nil)
            }
        }
    }

    /// A small answer of declared length (a JSON completion) is read whole and goes to the client in one write: head,
    /// body and end together. Anything else (SSE, chunked, large downloads) streams chunk by chunk, so events reach the
    /// client as the upstream sends them.
    private func delivery(of response: HTTPClientResponse, method: HTTPMethod) async -> Delivery {
        let status = HTTPResponse.Status(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase)
        let contentLength = response.headers.first(name: "content-length").flatMap(Int.init)
        let headers = HeaderPolicy.clientHeaders(from: response.headers, keepContentLength: contentLength != nil)
        guard let contentLength, contentLength <= Self.wholeAnswerLimit, method != .HEAD, status != .noContent, status != .notModified,
            !response.headers["content-type"].contains(where: { $0.lowercased().hasPrefix("text/event-stream") })
        else {
            return .ready(stream(response.body, status: status, headers: headers, contentLength: contentLength))
        }
        var body = ByteBuffer()
        var timedOut = false
        do {
            for try await chunk in response.body where body.readableBytes + chunk.readableBytes <= contentLength {
                body.writeImmutableBuffer(chunk)
            }
        } catch {
            timedOut = Self.isTimeout(error)
        }
        guard body.readableBytes == contentLength else {
            return .brokeOff(received: body.readableBytes, declared: contentLength, timedOut: timedOut)
        }
        return .ready(Response(status: status, headers: headers, body: .init(byteBuffer: body)))
    }

    /// The longest a request waits for its config to be re-read when its node's cache is behind the coordinator.
    private static let refreshWaitLimit = Duration.seconds(2)

    /// Waits until `task` ends or `limit` passes, whichever comes first; the task goes on by itself after a timeout.
    private static func wait(for task: Task<Void, Never>, atMost limit: Duration) async {
        guard limit > .zero else { return }
        let (ended, signal) = AsyncStream<Void>.makeStream()
        let watcher = Task {
            await task.value
            signal.finish()
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            signal.finish()
        }
        for await _ in ended {}
        watcher.cancel()
        timer.cancel()
    }

    /// Answers up to this declared size are read whole before they are sent; larger ones stream.
    private static let wholeAnswerLimit = 256 * 1024

    private func stream(_ upstreamBody: HTTPClientResponse.Body, status: HTTPResponse.Status, headers: HTTPFields, contentLength: Int?) -> Response {
        let body = ResponseBody(contentLength: contentLength) { writer in
            for try await chunk in upstreamBody {
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// No key can serve (any more): say why, in the client's format.
    private func finalAnswer(after failure: Failure?, soonestFree: Double?) throws -> Response {
        switch failure {
        case .response(let status, let headers, let body, .retryableFailure):
            // Retries are spent: pass the upstream's own error on.
            var fields = HeaderPolicy.clientHeaders(from: headers, keepContentLength: false)
            fields[.contentLength] = String(body.readableBytes)
            return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: body))
        case .response(let status, _, _, .keyRejected) where soonestFree == nil || pool.secrets.count <= 1:
            throw proxyError(.serviceUnavailable, .upstreamUnavailable,
                             "the upstream rejected the keys of '\(pool.config.slug)' (last answer \(status)); an admin must check them", format: format)
        case .transport(let error):
            if Self.isTimeout(error) {
                throw proxyError(.gatewayTimeout, .timeout, "the upstream did not answer within \(Int(settings.timeout)) s", format: format)
            }
            throw proxyError(.badGateway, .upstreamUnavailable, "the upstream could not be reached", format: format)
        case .brokenAnswer(let received, let declared, let timedOut):
            // A clear error beats a truncated answer under a 200.
            if timedOut {
                throw proxyError(.gatewayTimeout, .timeout,
                                 "the upstream stopped sending its answer for \(Int(settings.timeout)) s (\(received) of \(declared) bytes)", format: format)
            }
            throw proxyError(.badGateway, .upstreamUnavailable, "the upstream's answer broke off after \(received) of \(declared) bytes", format: format)
        default:
            break
        }
        if soonestFree == nil, case .response(_, _, _, .rateLimited) = failure {
            // Out of time while rotating past rate-limited keys: still a 429, with the shortest honest wait.
            return try finalAnswer(after: nil, soonestFree: 1)
        }
        if let soonestFree {
            metrics.allKeysCooling(slug: pool.config.slug)
            let seconds = max(1, Int(soonestFree.rounded(.up)))
            throw proxyError(.tooManyRequests, .rateLimited,
                             "every key of '\(pool.config.slug)' is rate limited; retry after \(seconds) s", format: format,
                             headers: [.retryAfter: String(seconds)])
        }
        throw proxyError(.serviceUnavailable, .upstreamUnavailable,
                         "proxy config '\(pool.config.slug)' has no usable keys: add keys or re-enable invalid ones", format: format)
    }

    private static func isTimeout(_ error: any Error) -> Bool {
        guard let error = error as? HTTPClientError else { return false }
        return error == .readTimeout || error == .connectTimeout || error == .deadlineExceeded
    }

    /// Error descriptions without URLs (a generic config's query may hold a key).
    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return error.shortDescription }
        return String(describing: type(of: error))
    }
}
