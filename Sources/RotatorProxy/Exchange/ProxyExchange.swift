import ClientAccess
import ConfigCatalog
import FormatConversion
import Foundation
import KeyCoordination
import NIOCore
import NIOHTTP1
import RequestIdentity
import RotatorCore
import UpstreamProviders

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
    /// The exchange holds a concurrency lease: from now on, every `QuotaLease.renewEvery` s while it runs, call its
    /// `leaseRenewalDue()`. One repeating timer per connection, not one per request.
    func exchangeHoldsLease(_ exchange: ProxyExchange)
    /// The client-key secret this connection presented last, hashed once.
    var presentedSecret: PresentedSecretMemo { get }
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
    /// The connection that renews this exchange's concurrency lease while it runs.
    var leaseOwner: (any ProxyExchangeOwner)? { owner }
    let connector: any UpstreamConnecting
    let head: HTTPRequestHead
    let route: ProxyRoute
    let requestID: String
    private let started: NIODeadline
    var machine: ExchangeStateMachine
    var admission: ProxyRequestGate.Admission?
    /// Set when the config's clients speak another format than its upstream (held apart from the admission, which is
    /// read on every step: a stream's conversion state is not copied with it).
    var conversion: ProxyConversion?
    var secrets: [Int64: String] = [:]
    var request: PreparedRequest?
    var connection: UpstreamConnection?
    var timer: Scheduled<Void>?
    var catchUpTimer: Scheduled<Void>?
    /// The current answer's body work: the key's scrubber, the plan, a stream's scrubbing and decoding.
    var reading = AnswerReading()
    /// The browser origin to allow in the answer's CORS headers, when it is on the list.
    var corsOrigin: String?
    var labels = MetricLabels()
    lazy var slugMetrics = service.metrics.forSlug(labels.slug)
    /// The failures reported through a future that have not completed yet (the final answer waits for them).
    var pendingReports: EventLoopFuture<Void>?
    /// The client key that authenticated the request (nil: an operator key of `GLOBAL_PROXY_KEYS`).
    var clientKey: ClientKey?
    /// The tokens the answer reported (whole answers, a stream's events so far; converted or passed through).
    var answerUsage: TokenUsage?
    /// Reads a passed-through stream's usage as it is relayed (nil for converted streams: the conversion reads theirs).
    var usageTap: UsageTap?
    /// The client key's limits as its admission saw them: `x-ratelimit-*` headers on every answer.
    var quotaStates: [LimitState] = []

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
            maxBodyBytes: service.settings.maxBodyBytes, clientKeys: service.clientKeys,
            secretMemo: owner?.presentedSecret
        ) {
        case .refuse(let refusal):
            return run(machine.headRefused(.given(refusal)))
        case .refuseUnlessBodyKey(let refusal):
            run(machine.headChecked(.refusalUnlessKey(refusal)))
        case .admit(var admission):
            conversion = admission.conversion
            admission.conversion = nil
            self.admission = admission
            clientKey = admission.clientKey
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

    func receiveEnd() { run(machine.requestEnded(bodyKey: bodyKey)) }

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
                service.metrics.keyOutcome(judged.outcome, key: judged.key, pool: pool, answer: judged.answer, secret: secrets[judged.key])
            }
            report(judged.outcome, key: judged.key)
        }
        for owed in step.reports { report(owed.outcome, key: owed.key) }
        if let call = step.quota { endAdmission(call) }
        if let key = step.unpick, let pool = labels.pool { service.coordinator.unpick(key: key, pool: pool, on: context.eventLoop) }
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
        case .admit(let request):
            admit(request)
        case .renewQuota(let ticket):
            service.clientQuota?.renew(ticket, on: context.eventLoop)
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
            // Bounded: a coordinator that does not answer delays the answer by 2 s at most (the second wake-up is ignored).
            let bound = context.eventLoop.assumeIsolated().scheduleTask(in: min(.seconds(2), machine.limits.timeout)) {
                self.run(self.machine.reportsCompleted())
            }
            pending.assumeIsolated().whenComplete { _ in
                bound.cancel()
                self.run(self.machine.reportsCompleted())
            }
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


    /// The request's row of the usage ledger (requests to a config only: an unknown slug has no row to count in).
    private func recordLedgerRow(status: Int) {
        guard let configID = labels.pool else { return }
        let usage = answerUsage
        let key = UsageRowKey(
            day: UsageRowKey.day(secondsSince1970: wallTime.timeIntervalSince1970), clientKeyID: clientKey?.id, configID: configID,
            keyID: machine.keys?.currentKey, model: request?.model)
        let counts = UsageCounts.request(
            status: status, attempts: machine.keys?.attempts ?? 0, input: usage?.inputTokens ?? 0, output: usage?.outputTokens ?? 0,
            cached: usage?.cachedTokens ?? 0)
        service.usageLedger.add(counts, to: key, shard: ObjectIdentifier(context.eventLoop).hashValue)
        if let clientKey { service.metrics.clientKeyUsage(id: clientKey.id, name: clientKey.name, usage: usage) }
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

    var wallTime: Date { service.wallClock.date(at: now) }

    private func finish(completed: Bool) {
        cancelTimer()
        catchUpTimer?.cancel()
        catchUpTimer = nil
        // A converted stream's tokens as far as it went: all of them at its end, what was reported if the client left.
        recordUsage(conversion?.streamUsage ?? usageTap?.usage)
        let record = machine.record
        let status = record.status == 0 ? 499 : record.status
        service.metrics.requestFinished(slug: labels.slug, status: status, format: labels.format)
        recordLedgerRow(status: status)
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
        // Last: the answer's usage (`answerUsage`) is complete by now.
        if let call = machine.exchangeEnding() { endAdmission(call) }
        owner?.exchangeFinished(self, closeConnection: machine.closesConnection)
    }
}
