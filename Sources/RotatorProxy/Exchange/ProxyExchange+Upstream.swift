import NIOCore
import NIOHTTP1

/// The exchange's upstream side: one attempt sent on a pooled or new connection, and the read timer the machine asks for.
extension ProxyExchange {
    func send(keyID: Int64, fresh: Bool, timer deadline: NIODeadline) {
        guard let request, let secret = secrets[keyID] else { preconditionFailure("a key sent that the request does not know") }
        if !fresh {
            slugMetrics.selections.increment()
            if let pool = labels.pool { service.metrics.keyUsed(pool: pool, key: keyID) }
            if (machine.keys?.attempts ?? 1) > 1 { slugMetrics.retries.increment() }
        }
        reading.scrubber = SecretScrubber.cached(secret: secret)
        let upstreamHead = request.head(method: head.method, secret: secret)
        armTimer(at: deadline)
        if !fresh, let idle = connector.idleConnection(to: request.origin) {
            connection = idle
            idle.send(head: upstreamHead, body: request.body, to: self)
            return
        }
        let attempt = machine.connectingAnew()
        connector.connect(to: request.origin).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                guard self.machine.connected(attempt: attempt, now: self.now) else { return connection.close() }
                self.connection = connection
                connection.send(head: upstreamHead, body: request.body, to: self)
            case .failure(let error):
                guard self.machine.connected(attempt: attempt, now: self.now) else { return }
                var timedOut = false
                if case .connectTimeout = error as? ChannelError { timedOut = true }
                self.service.logger.debug("upstream connect failed", metadata: ["error": "\(type(of: error))", "request_id": "\(self.requestID)"])
                self.run(self.machine.upstreamFailed(.notSent(timedOut: timedOut), now: self.now))
            }
        }
    }

    /// One timer per attempt, re-armed only when it fires early: activity costs a clock read, not a reschedule.
    func armTimer(at deadline: NIODeadline) {
        guard timer == nil else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timer = nil
            self.run(self.machine.timerFired(now: self.now))
        }
    }

    func cancelTimer() {
        timer?.cancel()
        timer = nil
    }
}

/// The upstream request of one exchange, built once when the body is complete; each attempt adds its key.
struct PreparedRequest {
    var body: ByteBuffer
    var headers: HTTPHeaders
    let injection: KeyInjection
    let path: String
    let query: String?
    let origin: UpstreamOrigin
    /// The model the request names (`RequestModel`): keys resting for it are skipped.
    let model: String?

    func head(method: HTTPMethod, secret: String) -> HTTPRequestHead {
        var headers = self.headers
        var query = self.query
        injection.apply(secret: secret, headers: &headers, query: &query)
        headers.replaceOrAdd(name: "Host", value: origin.hostHeader)
        if body.readableBytes > 0 || method == .POST || method == .PUT || method == .PATCH {
            headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        }
        return HTTPRequestHead(version: .http1_1, method: method, uri: query.map { path + "?" + $0 } ?? path, headers: headers)
    }
}
