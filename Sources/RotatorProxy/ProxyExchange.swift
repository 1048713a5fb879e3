import ConfigCatalog
import FormatConversion
import Foundation
import KeyCoordination
import NIOCore
import NIOHTTP1
import RotatorCore
import RotatorHTTP

/// Where an exchange gets upstream connections: the event loop's pool in production, a test double in
/// `EmbeddedChannel` tests.
protocol UpstreamConnecting: AnyObject {
    func idleConnection(to origin: UpstreamOrigin) -> UpstreamConnection?
    func connect(to origin: UpstreamOrigin) -> EventLoopFuture<UpstreamConnection>
    func release(_ connection: UpstreamConnection)
}

extension UpstreamConnectionPool: UpstreamConnecting {}

/// What an exchange tells the connection handler that owns it.
protocol ProxyExchangeOwner: AnyObject {
    /// The answer is written (or the exchange was abandoned): the connection may serve its next request.
    func exchangeFinished(_ exchange: ProxyExchange, closeConnection: Bool)
}

/// One proxied request on its client connection's event loop, from head to last byte: the executor of
/// `ExchangeStateMachine`. It passes every event (a body part, a key offered, an answer's part, a failure, the timer)
/// to the machine with the loop's clock and performs the step it returns; the bytes' own work (the gate, conversion,
/// decoding, scrubbing, the answer's headers) is here and in `ProxyExchange+Answers.swift`. Everything runs on that one
/// loop: no locks, no tasks, except for the rare store catch-up, key invalidation and pool rest.
final class ProxyExchange: UpstreamResponseReceiver {
    let service: ProxyService
    let context: ChannelHandlerContext
    private weak var owner: (any ProxyExchangeOwner)?
    private let connector: any UpstreamConnecting
    let head: HTTPRequestHead
    let route: ProxyRoute
    let requestID: String
    private let started: NIODeadline
    var machine: ExchangeStateMachine
    var admission: ProxyRequestGate.Admission?
    /// Set when the config's clients speak another format than its upstream (held apart from the admission, which is
    /// read on every step: a stream's conversion state is not copied with it).
    var conversion: ProxyConversion?
    private var secrets: [Int64: String] = [:]
    private var request: UpstreamRequest?
    private var connection: UpstreamConnection?
    private var timer: Scheduled<Void>?
    private var catchUpTimer: Scheduled<Void>?
    /// The current answer's body work: the key's scrubber, the plan, a stream's scrubbing and decoding.
    var reading = AnswerReading()
    /// The browser origin to allow in the answer's CORS headers, when it is on the list.
    var corsOrigin: String?
    private var labels = MetricLabels()
    lazy var slugMetrics = service.metrics.forSlug(labels.slug)
    /// The failures reported through a future that have not completed yet (the final answer waits for them).
    private var pendingReports: EventLoopFuture<Void>?

    init(
        head: HTTPRequestHead, route: ProxyRoute, context: ChannelHandlerContext, owner: any ProxyExchangeOwner, service: ProxyService,
        connector: any UpstreamConnecting
    ) {
        self.head = head
        self.route = route
        self.context = context
        self.owner = owner
        self.service = service
        self.connector = connector
        self.requestID = RequestIDPolicy.acceptable(head.headers.first(name: "x-request-id")) ?? RequestIdentifier.make()
        self.started = context.eventLoop.now
        self.machine = ExchangeStateMachine(head: head, maxBodyBytes: service.settings.maxBodyBytes, limits: service.limits)
    }

    /// The loop's clock: the wall clock in production, a virtual one that `EmbeddedEventLoop` tests advance.
    var now: NIODeadline { context.eventLoop.now }

    /// The client's request is still arriving (its end not yet read).
    var isReceivingRequest: Bool { machine.isReceivingRequest }

    // MARK: Events from the client

    /// The head arrived: refuse it now, or admit it and wait for the body.
    func start() {
        if let origin = allowedOrigin() {
            corsOrigin = origin
            if head.method == .OPTIONS, head.headers.contains(name: "access-control-request-method") {
                answerPreflight(origin: origin)
                return run(machine.answeredLocally())
            }
        }
        // An address that sent too many wrong keys is not heard until its window ends, whatever key it sends now.
        if let wait = service.wrongKeys.retryAfter(address: clientAddress()) {
            return run(machine.headRefused(.given(ProxyRequestGate.Refusal(
                status: .tooManyRequests, kind: .rateLimited, message: "too many requests with a wrong proxy key from this address; retry after \(wait) s",
                format: ProxyRequestGate.requestDialect(head: head, route: route), extraHeaders: [("Retry-After", String(wait))]
            ))))
        }
        let pool = service.catalog.pool(slug: route.slug)
        if let pool { labels = MetricLabels(slug: pool.config.slug, format: route.kind == .generic ? "generic" : pool.config.apiFormat.rawValue, pool: pool.config.id) }
        switch ProxyRequestGate.evaluate(
            head: head, route: route, catalogLoaded: service.catalog.isLoaded, pool: pool, proxyKeys: service.settings.proxyKeys,
            maxBodyBytes: service.settings.maxBodyBytes
        ) {
        case .refuse(let refusal):
            return run(machine.headRefused(.given(refusal)))
        case .refuseUnlessBodyKey(let refusal):
            run(machine.headChecked(.refusalUnlessKey(refusal)))
        case .admit(var admission):
            conversion = admission.conversion
            admission.conversion = nil
            self.admission = admission
            secrets = admission.pool.secrets
            let check: ExchangeStateMachine.BodyCheck = admission.credential != .expectedInBody ? .none
                : route.kind == .llm ? .keyInBody : .refusalUnlessKey(ProxyRequestGate.unauthorized(head: head, route: route))
            run(machine.headChecked(check))
        }
        if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        }
    }

    func receiveBody(_ part: ByteBuffer) { run(machine.bodyPart(part)) }

    func receiveEnd() { run(machine.requestEnded(withoutProxyKey: bodyWithoutProxyKey)) }

    /// The client went away: stop the upstream exchange, write nothing more.
    func clientClosed() { run(machine.clientClosed()) }

    /// The client took longer than `CLIENT_REQUEST_TIMEOUT` to send this request: a 408 in its format when nothing was
    /// answered yet. The front handler closes the connection after it.
    func requestTimedOut(message: String) { run(machine.requestTimedOut(message: message)) }

    func clientWritabilityChanged() { followClientWritability() }

    // MARK: Events from the upstream

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        switch part {
        case .head(let answer):
            if let sentAt = machine.awaitingAnswerSince { slugMetrics.upstreamLatency.recordNanoseconds(Int64((now - sentAt).nanoseconds)) }
            let status = Int(answer.status.code)
            var plan = AnswerBodyPlan(route: route.kind, status: status, headers: answer.headers, converts: conversion != nil)
            reading.startAnswer(plan: &plan)
            run(machine.answerHead(status: status, headers: plan.clientFacing(answer.headers), plan: plan, now: now))
        case .body(let part):
            let margin = (reading.scrubber?.longestOccurrence ?? 1) - 1
            run(machine.answerPart(part, now: now, margin: margin) { reading.decodeWithinLimit($0) })
        case .end:
            run(machine.answerEnded(now: now, intact: reading.finishDecoding()))
        }
    }

    func upstreamReadComplete() {
        guard machine.isStreaming else { return }
        writeHeldHead()
        context.flush()
        followClientWritability()
    }

    func upstreamFailed(_ failure: TransportFailure) {
        connection = nil
        run(machine.upstreamFailed(failure, now: now))
    }

    // MARK: Steps

    func run(_ step: ExchangeStateMachine.Step) {
        switch step.upstream {
        case .keep: break
        case .release:
            cancelTimer()
            if let connection { connector.release(connection) }
            connection = nil
        case .close:
            cancelTimer()
            connection?.close()
            connection = nil
        }
        if let judged = step.judged {
            if let pool = labels.pool, judged.outcome != .success {
                service.metrics.keyOutcome(judged.outcome, key: judged.key, pool: pool, answer: judged.answer, now: wallTime, secret: secrets[judged.key])
            }
            report(judged.outcome, key: judged.key)
        }
        for owed in step.reports { report(owed.outcome, key: owed.key) }
        perform(step.action)
    }

    private func perform(_ action: ExchangeStateMachine.Action) {
        switch action {
        case .none:
            break
        case .prepareRequest(let body):
            prepare(body: body)
        case .acquireKey(let excluded):
            acquireKey(excluding: excluded)
        case .send(let keyID, let fresh, let deadline):
            send(keyID: keyID, fresh: fresh, timer: deadline)
        case .wait(let time):
            context.eventLoop.assumeIsolated().scheduleTask(in: time) { self.run(self.machine.waited(now: self.now)) }
        case .catchUp(let limit):
            catchUp(limit: limit)
        case .armTimer(let deadline):
            armTimer(at: deadline)
        case .awaitReports:
            guard let pending = pendingReports else { return run(machine.reportsCompleted()) }
            pendingReports = nil
            pending.assumeIsolated().whenComplete { _ in self.run(self.machine.reportsCompleted()) }
        case .write(let answer, let then):
            write(answer)
            if then == .finish { finish(completed: true) }
        case .startStream(let status, let headers):
            startStream(status: status, headers: headers)
        case .relay(let part):
            relay(part)
        case .endStream:
            endStream()
            finish(completed: true)
        case .closeClient:
            context.close(promise: nil)
            finish(completed: false)
        case .finish(let completed):
            finish(completed: completed)
        }
    }

    /// The body is complete and authenticated: converted once (every key gets the same upstream request), then the
    /// key machine starts.
    private func prepare(body: ByteBuffer) {
        guard let admission else { preconditionFailure("a request prepared without an admission") }
        var body = body
        var target = (path: admission.upstreamPath, query: admission.upstreamQuery)
        if var conversion {
            if let rejected = conversion.convertRequest(body) {
                writeConverted(rejected)
                return run(machine.answeredLocally())
            }
            if let upstream = conversion.converted?.upstream {
                target = ProxyConversion.upstreamTarget(admission.target, path: upstream.path)
                body = ByteBuffer(bytes: upstream.body)
            }
            self.conversion = conversion
        }
        let config = admission.pool.config
        let injection = KeyInjection(config: config, route: route.kind)
        var headers = HeaderPolicy.upstreamHeaders(
            from: head.headers, requestID: requestID, extraRemoved: injection.headerToDrop, forwardBillingHeaders: config.forwardBillingHeaders
        )
        conversion?.upstreamHeaders(&headers)
        let model = RequestModel.name(dialect: UpstreamDialect(config: config, route: route.kind), path: target.path, body: body)
        request = UpstreamRequest(body: body, headers: headers, injection: injection, path: target.path, query: target.query,
                                  origin: UpstreamOrigin(admission.target), model: model)
        let keys = ProxyStateMachine(
            slug: config.slug, limits: machine.limits,
            blame: RequestBlame(rules: RequestBlame.Rules(settings: service.settings, config: config), method: head.method.rawValue, model: model),
            classifier: UpstreamAnswerClassifier(config: config, route: route.kind), startedAt: now, wallClock: service.wallClock
        )
        run(machine.requestPrepared(keys: keys, conversion: conversion?.reading))
    }

    // MARK: Keys

    private func acquireKey(excluding excluded: Set<Int64>) {
        guard let poolID = admission?.pool.config.id else { preconditionFailure("a key asked for without an admission") }
        let model = request?.model
        if let acquisition = service.coordinator.acquireKeyImmediately(pool: poolID, excluding: excluded, model: model) {
            return offered(acquisition)
        }
        service.coordinator.acquireKey(pool: poolID, excluding: excluded, model: model, on: context.eventLoop).assumeIsolated().whenComplete { result in
            self.offered((try? result.get()) ?? .unavailable(retryAfter: 1))
        }
    }

    private func offered(_ acquisition: KeyAcquisition) {
        var isKnown = true
        if case .key(let id) = acquisition { isKnown = knows(key: id) }
        run(machine.keyOffered(acquisition, isKnown: isKnown, storeReachable: service.catalog.storeReachable, now: now))
    }

    /// Whether this request can use the key; adopts the catalog's fresher keys when it has caught up since the request
    /// started and the config still points where it did.
    private func knows(key id: Int64) -> Bool {
        if secrets[id] != nil { return true }
        adoptFresherKeys()
        return secrets[id] != nil
    }

    private func adoptFresherKeys() {
        guard let admission, let fresher = service.catalog.pool(configID: admission.pool.config.id), fresher.routesLike(admission.pool) else { return }
        secrets = fresher.secrets
    }

    /// The cache is behind the coordinator: re-read this config once, waiting at most `limit`, then go on with whatever
    /// the catalog holds (the second of the two wake-ups is ignored by the machine).
    private func catchUp(limit: TimeAmount) {
        guard let configID = admission?.pool.config.id else { preconditionFailure("a catch-up without an admission") }
        let catalog = service.catalog
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        Task {
            _ = try? await catalog.refresh(configID: configID)
            loop.execute { bound.value.caughtUp() }
        }
        catchUpTimer = loop.assumeIsolated().scheduleTask(in: limit) { self.caughtUp() }
    }

    private func caughtUp() {
        catchUpTimer?.cancel()
        catchUpTimer = nil
        adoptFresherKeys()
        let secrets = self.secrets
        run(machine.caughtUp(stillUnknown: { $0.filter { secrets[$0] == nil } }, now: now))
    }

    private func report(_ outcome: KeyOutcome, key: Int64) {
        guard let poolID = labels.pool else { return }
        let metrics = slugMetrics
        let traffic = service.metrics
        switch outcome {
        case .rateLimited(let cooldown, let model):
            metrics.cooldowns.increment()
            // A rest for one model says nothing about the account: only whole-key rests count towards resting the pool.
            if model == nil { watchPool(key: key, cooldown: cooldown) }
        case .rejected: metrics.quarantines.increment()
        case .quotaExhausted: metrics.quotaExhausted.increment()
        case .success: service.poolWatch.served(pool: poolID, key: key)
        case .upstreamFailure: break
        }
        let catalog = service.catalog
        let reason = outcome.rejectionReason
        @Sendable func apply(_ effect: OutcomeEffect) {
            traffic.keyEffect(effect, key: key, pool: poolID)
            guard effect == .invalidated else { return }
            metrics.invalidated.increment()
            Task { await catalog.invalidateKey(id: key, configID: poolID, reason: "\(reason ?? "rejected") repeatedly") }
        }
        if let effect = service.coordinator.reportImmediately(outcome, key: key, pool: poolID) { return apply(effect) }
        let reported = service.coordinator.report(outcome, key: key, pool: poolID, on: context.eventLoop)
        reported.whenSuccess(apply)
        // Successes stay free; the final answer waits for failures (a rest must be seen by the next request).
        if outcome != .success { awaitBeforeAnswering(reported.map { _ in }) }
    }

    private func awaitBeforeAnswering(_ future: EventLoopFuture<Void>) {
        pendingReports = pendingReports.map { $0.and(future).map { _ in } } ?? future
    }

    /// Most keys of the pool rate limited within a short window: an account- or IP-wide limit. The pool rests as a
    /// whole until the reset instead of key by key.
    private func watchPool(key: Int64, cooldown: Double) {
        guard let poolID = labels.pool else { return }
        let wall = wallTime.timeIntervalSince1970
        guard let verdict = service.poolWatch.rateLimited(
            pool: poolID, key: key, cooldown: cooldown, request: requestID, poolSize: secrets.count, now: wall
        ) else { return }
        slugMetrics.poolCooled.increment()
        machine.poolRested(PoolCooling(until: wall + verdict.seconds, reason: verdict.reason))
        let coordinator = service.coordinator
        let logger = service.logger
        let slug = labels.slug
        awaitBeforeAnswering(context.eventLoop.makeFutureWithTask {
            await coordinator.coolPool(pool: poolID, seconds: verdict.seconds, reason: verdict.reason)
            logger.warning("pool rate limited as a whole: resting it", metadata: ["slug": "\(slug)", "seconds": "\(verdict.seconds)",
                                                                                 "reason": "\(verdict.reason)"])
        })
    }

    // MARK: Upstream

    private func send(keyID: Int64, fresh: Bool, timer deadline: NIODeadline) {
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
    private func armTimer(at deadline: NIODeadline) {
        guard timer == nil else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timer = nil
            self.run(self.machine.timerFired(now: self.now))
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    /// Upstream reads follow the client's writability as it is now, after every flush and every writability change:
    /// a change fired inside a flush (the socket drained while it was written) can never be overtaken by a pause
    /// decided before it, so no wake-up is lost whatever order flushes, writability changes and reads come in. Only a
    /// stream is paused: an answer read whole writes nothing to the client until it is complete.
    func followClientWritability() {
        guard let connection else { return }
        if context.channel.isWritable {
            connection.resumeReads()
        } else if machine.isStreaming {
            connection.pauseReads()
        }
    }

    private var wallTime: Date { service.wallClock.date(at: now) }

    private func finish(completed: Bool) {
        cancelTimer()
        catchUpTimer?.cancel()
        catchUpTimer = nil
        // A converted stream's tokens as far as it went: all of them at its end, what was reported if the client left.
        recordUsage(conversion?.streamUsage)
        let record = machine.record
        let status = record.status == 0 ? 499 : record.status
        service.metrics.requestFinished(slug: labels.slug, status: status, format: labels.format)
        service.metrics.requestCompleted(pool: labels.pool, status: status,
                                         addedNanoseconds: Int64(((record.answeredAt ?? now) - started).nanoseconds) - record.upstreamWait)
        if service.accessLog.isEnabled {
            service.accessLog.append(AccessLogWriter.Line(
                method: head.method.rawValue, path: String(route.path), status: status,
                durationMilliseconds: Double((now - started).nanoseconds) / 1e6, requestID: requestID, slug: route.slug,
                upstreamStatus: record.upstreamStatus, keyID: machine.keys?.currentKey, retries: max((machine.keys?.attempts ?? 1) - 1, 0),
                completed: completed
            ))
        }
        owner?.exchangeFinished(self, closeConnection: machine.closesConnection)
    }
}

/// The upstream request of one exchange, built once when the body is complete; each attempt adds its key.
private struct UpstreamRequest {
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

/// The config's labels for metrics and traffic (unknown until the slug names a pool).
private struct MetricLabels {
    var slug = "unknown"
    var format = "unknown"
    var pool: Int64?
}

extension KeyOutcome {
    fileprivate var rejectionReason: String? {
        if case .rejected(let reason) = self { return reason }
        return nil
    }
}
