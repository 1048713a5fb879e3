import ConfigCatalog
import FormatConversion
import Foundation
import KeyCoordination
import NIOCore
import NIOHTTP1
import RequestIdentity
import RotatorCore

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

/// One proxied request on its client connection's event loop, from head to last byte: it checks the head, collects
/// the body, then performs what `ProxyStateMachine` decides (take a key, send, judge, rotate, wait, answer) and
/// relays the chosen answer with back-pressure. Everything here runs on that one loop: no locks, no tasks, except for
/// the rare store catch-up and key invalidation.
final class ProxyExchange: UpstreamResponseReceiver {
    private enum Reading {
        case none
        case awaitingHead(sentAt: NIODeadline)
        case whole(status: Int, headers: HTTPHeaders, body: ByteBuffer, declared: Int)
        case errorBody(status: Int, headers: HTTPHeaders, body: ByteBuffer)
        case streaming
    }

    private let service: ProxyService
    private let context: ChannelHandlerContext
    private weak var owner: (any ProxyExchangeOwner)?
    private let connector: any UpstreamConnecting
    let head: HTTPRequestHead
    private let route: ProxyRoute
    private let requestID: String
    private let started: NIODeadline

    private var admission: ProxyRequestGate.Admission?
    /// Set when the config's clients speak another format than its upstream.
    private var conversion: ProxyConversion?
    private var secrets: [Int64: String] = [:]
    private var body = ByteBuffer()
    private var machine: ProxyStateMachine?
    private var baseHeaders = HTTPHeaders()
    private var injection: KeyInjection?
    /// The model the upstream request names (`RequestModel`): keys resting for it are skipped.
    private var model: String?

    /// The client's request is still arriving (its end not yet read).
    private(set) var isReceivingRequest = true
    /// The connection must close after this exchange (a refusal before the body was read, `Connection: close`).
    private var closeAfter: Bool
    private var isFinished = false
    private var isRefused = false
    /// An answer read whole was longer than its limit and cut there.
    private var isAnswerCut = false
    /// The tokens of a converted answer were counted (they are counted once, whichever way the exchange ends).
    private var isUsageRecorded = false
    /// A refusal was written while a small rest of the body still arrives: it is read and dropped, then the connection
    /// serves the next request.
    private var awaitsEndAfterRefusal = false
    /// A refusal that tells something about the slug, held until the body shows a valid proxy key (the 401 otherwise).
    private var refusalForBodyKey: ProxyRequestGate.Refusal?
    /// A refused request's unread body this large or larger (or of unknown length) is not worth reading: the
    /// connection closes instead.
    private static let bodyWorthDraining = 64 * 1024
    /// The browser origin to allow in the answer's CORS headers, when it is on the list.
    private var corsOrigin: String?

    private var connection: UpstreamConnection?
    private var connectionWasReused = false
    private var freshConnectionRetried = false
    private var reading = Reading.none
    private var lastUpstreamActivity = NIODeadline.uptimeNanoseconds(0)
    private var timer: Scheduled<Void>?
    private var catchUpPending = false
    /// Removes the key of the current attempt from whatever goes back to the client.
    private var scrubber: SecretScrubber?
    /// The current answer's body plan (scrubbed? decoded?), its streamed scrubbing and its decoder.
    private var bodyPlan: AnswerBodyPlan?
    private var streamScrubber: StreamingSecretScrubber?
    private var inflater: BodyInflater?
    private var catchUpTimer: Scheduled<Void>?
    /// A streamed answer's head, not yet written to the client (see `writeHeldHead`).
    private var heldHead: HTTPResponseHead?

    // Access log and metrics.
    private var responseStatus = 0
    private var upstreamStatus: Int?
    private var metricsSlug = "unknown"
    private var metricsFormat = "unknown"
    /// The slug's metric handles, looked up once per request.
    private lazy var slugMetrics = service.metrics.forSlug(metricsSlug)
    // Traffic (admin charts): the config counted, the upstream's time to answer, when the client's answer began.
    private var trafficPool: Int64?
    private var upstreamWait: Int64 = 0
    private var answeredAt: NIODeadline?

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
        self.closeAfter = !head.isKeepAlive
        self.started = context.eventLoop.now
    }

    /// The loop's clock: the wall clock in production, a virtual one that `EmbeddedEventLoop` tests advance.
    private var now: NIODeadline { context.eventLoop.now }

    // MARK: The client's request

    /// The head arrived: refuse it now, or admit it and wait for the body.
    func start() {
        if !service.settings.corsAllowedOrigins.isEmpty, let origin = head.headers.first(name: "origin"),
            service.settings.corsAllowedOrigins.contains(origin) || service.settings.corsAllowedOrigins.contains("*") {
            corsOrigin = origin
            if head.method == .OPTIONS, head.headers.contains(name: "access-control-request-method") {
                return answerPreflight(origin: origin)
            }
        }
        // An address that sent too many wrong keys is not heard until its window ends, whatever key it sends now.
        if let wait = service.wrongKeys.retryAfter(address: self.clientAddress()) {
            return refuse(ProxyRequestGate.Refusal(
                status: .tooManyRequests, kind: .rateLimited, message: "too many requests with a wrong proxy key from this address; retry after \(wait) s",
                format: ProxyRequestGate.requestDialect(head: head, route: route), extraHeaders: [("Retry-After", String(wait))]
            ))
        }
        let pool = service.catalog.pool(slug: route.slug)
        if let pool {
            metricsSlug = pool.config.slug
            trafficPool = pool.config.id
            metricsFormat = route.kind == .generic ? "generic" : pool.config.apiFormat.rawValue
        }
        switch ProxyRequestGate.evaluate(
            head: head, route: route, catalogLoaded: service.catalog.isLoaded, pool: pool, proxyKeys: service.settings.proxyKeys,
            maxBodyBytes: service.settings.maxBodyBytes
        ) {
        case .refuse(let refusal):
            refuse(refusal)
        case .refuseUnlessBodyKey(let refusal):
            refusalForBodyKey = refusal
            continueIfAsked()
        case .admit(var admission):
            // Held apart from the admission, which is read on every step: a stream's conversion state is not copied with it.
            conversion = admission.conversion
            admission.conversion = nil
            self.admission = admission
            self.secrets = admission.pool.secrets
            continueIfAsked()
        }
    }

    /// The client's address for the wrong-key throttle: the peer, or the `X-Forwarded-For` hop `TRUSTED_PROXIES` vouch for.
    private func clientAddress() -> String {
        service.settings.clientAddresses.clientAddress(
            peer: context.channel.remoteAddress?.ipAddress, forwardedFor: head.headers[canonicalForm: "x-forwarded-for"].map(String.init)
        )
    }

    private func continueIfAsked() {
        if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        }
    }

    func receiveBody(_ part: ByteBuffer) {
        guard !isFinished, !isRefused, admission != nil || refusalForBodyKey != nil else { return }
        var part = part
        let limit = service.settings.maxBodyBytes
        if refusalForBodyKey != nil || admission?.credential == .expectedInBody {
            // Nothing is authenticated yet: only a small body is read.
            if body.readableBytes + part.readableBytes > min(limit, ProxyRequestGate.bodyKeyMaxBytes) {
                return refuse(ProxyRequestGate.tooLargeForBodyKey(limit, format: ProxyRequestGate.requestDialect(head: head, route: route)))
            }
        } else if body.readableBytes + part.readableBytes > limit {
            return refuse(ProxyRequestGate.tooLarge(limit, format: admission?.format))
        }
        if body.readableBytes == 0 && body.capacity == 0 {
            body = part
        } else {
            body.writeBuffer(&part)
        }
    }

    func receiveEnd() {
        isReceivingRequest = false
        if awaitsEndAfterRefusal {
            awaitsEndAfterRefusal = false
            finish(completed: true)
            return
        }
        guard !isFinished, !isRefused else { return }
        let withoutProxyKey = bodyWithoutProxyKey()
        if let refusal = refusalForBodyKey {
            return refuse(withoutProxyKey != nil ? refusal : ProxyRequestGate.unauthorized(head: head, route: route))
        }
        guard let admission else { return }
        if admission.credential == .expectedInBody, route.kind != .llm || withoutProxyKey == nil {
            return refuse(ProxyRequestGate.unauthorized(head: head, route: route))
        }
        // The client's proxy key never goes upstream, whether it was the credential or sent beside the head's.
        if let withoutProxyKey { body = withoutProxyKey }
        if var conversion {
            // Converted once, before any attempt: every key gets the same upstream request.
            if let rejected = conversion.convertRequest(body) { return writeConverted(rejected) }
            if let upstream = conversion.converted?.upstream {
                let target = ProxyConversion.upstreamTarget(admission.target, path: upstream.path)
                self.admission?.upstreamPath = target.path
                self.admission?.upstreamQuery = target.query
                body = ByteBuffer(bytes: upstream.body)
            }
            self.conversion = conversion
        }
        let config = admission.pool.config
        let injection = KeyInjection(config: config, route: route.kind)
        self.injection = injection
        baseHeaders = HeaderPolicy.upstreamHeaders(
            from: head.headers, requestID: requestID, extraRemoved: injection.headerToDrop, forwardBillingHeaders: config.forwardBillingHeaders
        )
        conversion?.upstreamHeaders(&baseHeaders)
        let dialect = UpstreamDialect(config: config, route: route.kind)
        model = RequestModel.name(dialect: dialect, path: self.admission?.upstreamPath ?? admission.upstreamPath, body: body)
        machine = ProxyStateMachine(
            slug: config.slug, limits: service.limits,
            blame: RequestBlame(rules: RequestBlame.Rules(settings: service.settings, config: config), method: head.method.rawValue, model: model),
            classifier: UpstreamAnswerClassifier(config: config, route: route.kind), startedAt: now
        )
        perform(machine!.start())
    }

    /// The body without its `api_key` when that holds one of the proxy keys (compared in constant time); nil otherwise.
    private func bodyWithoutProxyKey() -> ByteBuffer? {
        guard let extracted = ClientCredential.extractBodyAPIKey(from: body),
            ConstantTime.matchesAny(extracted.key, of: service.settings.proxyKeys)
        else { return nil }
        return extracted.body
    }

    /// The client went away: stop the upstream exchange, write nothing more.
    func clientClosed() {
        guard !isFinished else { return }
        closeUpstream()
        finish(completed: false)
    }

    /// The client took longer than `CLIENT_REQUEST_TIMEOUT` to send this request: a 408 in its format when nothing was
    /// answered yet. The front handler closes the connection after it.
    func requestTimedOut(message: String) {
        guard !isFinished else { return }
        closeAfter = true
        guard responseStatus == 0 else { return finish(completed: true) }
        writeError(status: .requestTimeout, kind: .requestTimeout, message: message, format: admission?.format, extraHeaders: [])
    }

    func clientWritabilityChanged() {
        followClientWritability()
    }

    // MARK: Decisions

    private func perform(_ action: ProxyStateMachine.Action) {
        guard !isFinished, let admission else { return }
        switch action {
        case .acquireKey(let excluded):
            let poolID = admission.pool.config.id
            if let acquisition = service.coordinator.acquireKeyImmediately(pool: poolID, excluding: excluded, model: model) {
                return offered(acquisition)
            }
            service.coordinator.acquireKey(pool: poolID, excluding: excluded, model: model, on: context.eventLoop).assumeIsolated().whenComplete { result in
                guard !self.isFinished else { return }
                self.offered((try? result.get()) ?? .unavailable(retryAfter: 1))
            }
        case .send(let keyID):
            slugMetrics.selections.increment()
            service.metrics.keyUsed(pool: admission.pool.config.id, key: keyID)
            if (machine?.attempts ?? 1) > 1 { slugMetrics.retries.increment() }
            send(keyID: keyID, freshConnection: false)
        case .wait(let time):
            context.eventLoop.assumeIsolated().scheduleTask(in: time) { self.handle(.waited) }
        case .catchUp:
            catchUp(configID: admission.pool.config.id)
        case .answer(let answer):
            deliverFinal(answer)
        }
    }

    private func offered(_ acquisition: KeyAcquisition) {
        var isKnown = true
        if case .key(let id) = acquisition { isKnown = knows(key: id) }
        handle(.keyOffered(acquisition, isKnown: isKnown, now: now))
    }

    private func handle(_ event: ProxyStateMachine.Event) {
        guard !isFinished, var machine else { return }
        machine.storeReachable = service.catalog.storeReachable
        let step = machine.handle(event)
        self.machine = machine
        if let outcome = step.report, let key = machine.currentKey, let pool = trafficPool { service.metrics.keyOutcome(outcome, key: key, pool: pool, after: event, secret: secrets[key]) }
        for settled in step.settled { report(settled.outcome, key: settled.key) }
        if let outcome = step.report, let key = machine.currentKey { report(outcome, key: key) }
        if case .answer = step.action {
            for owed in machine.owedReports { report(owed.outcome, key: owed.key) }
        }
        perform(step.action)
    }

    /// Whether this request can use the key; adopts the catalog's fresher keys when it has caught up since the request
    /// started and the config still points where it did.
    private func knows(key id: Int64) -> Bool {
        if secrets[id] != nil { return true }
        guard let admission, let fresher = service.catalog.pool(configID: admission.pool.config.id), fresher.secrets[id] != nil,
            fresher.routesLike(admission.pool)
        else { return false }
        secrets = fresher.secrets
        return true
    }

    private func report(_ outcome: KeyOutcome, key: Int64) {
        guard let admission else { return }
        let metrics = slugMetrics
        let traffic = service.metrics
        switch outcome {
        case .rateLimited(let cooldown, let model):
            metrics.cooldowns.increment()
            // A rest for one model says nothing about the account: only whole-key rests count towards resting the pool.
            if model == nil { watchPool(key: key, cooldown: cooldown) }
        case .rejected: metrics.quarantines.increment()
        case .quotaExhausted: metrics.quotaExhausted.increment()
        case .success: service.poolWatch.served(pool: admission.pool.config.id, key: key)
        case .upstreamFailure: break
        }
        let poolID = admission.pool.config.id
        let catalog = service.catalog
        let reason = outcome.rejectionReason
        @Sendable func apply(_ effect: OutcomeEffect) {
            traffic.keyEffect(effect, key: key, pool: poolID)
            guard effect == .invalidated else { return }
            metrics.invalidated.increment()
            Task { await catalog.invalidateKey(id: key, configID: poolID, reason: "\(reason ?? "rejected") repeatedly") }
        }
        if let effect = service.coordinator.reportImmediately(outcome, key: key, pool: poolID) { return apply(effect) }
        service.coordinator.report(outcome, key: key, pool: poolID, on: context.eventLoop).whenSuccess(apply)
    }

    /// Most keys of the pool rate limited within a short window: an account- or IP-wide limit. The pool rests as a
    /// whole until the reset instead of key by key.
    private func watchPool(key: Int64, cooldown: Double) {
        guard let admission else { return }
        let poolID = admission.pool.config.id
        guard let verdict = service.poolWatch.rateLimited(
            pool: poolID, key: key, cooldown: cooldown, request: requestID, poolSize: secrets.count, now: Date().timeIntervalSince1970
        ) else { return }
        slugMetrics.poolCooled.increment()
        machine?.poolCooling = PoolCooling(until: Date().timeIntervalSince1970 + verdict.seconds, reason: verdict.reason)
        let coordinator = service.coordinator
        let logger = service.logger
        let slug = metricsSlug
        Task {
            await coordinator.coolPool(pool: poolID, seconds: verdict.seconds, reason: verdict.reason)
            logger.warning("pool rate limited as a whole: resting it", metadata: ["slug": "\(slug)", "seconds": "\(verdict.seconds)",
                                                                                 "reason": "\(verdict.reason)"])
        }
    }

    /// The cache is behind the coordinator: re-read this config once, waiting at most 2 s (and never past the request's
    /// own deadline), then go on with whatever the catalog holds.
    private func catchUp(configID: Int64) {
        let catalog = service.catalog
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        catchUpPending = true
        Task {
            _ = try? await catalog.refresh(configID: configID)
            loop.execute { bound.value.caughtUp(configID: configID) }
        }
        let limit = min(TimeAmount.seconds(2), service.limits.timeout)
        catchUpTimer = loop.assumeIsolated().scheduleTask(in: limit) { self.caughtUp(configID: configID) }
    }

    private func caughtUp(configID: Int64) {
        guard catchUpPending else { return }
        catchUpPending = false
        catchUpTimer?.cancel()
        catchUpTimer = nil
        guard !isFinished, let admission else { return }
        if let fresher = service.catalog.pool(configID: configID), fresher.routesLike(admission.pool) {
            secrets = fresher.secrets
        }
        let stillUnknown = (machine?.unknownKeys ?? []).filter { secrets[$0] == nil }
        handle(.caughtUp(stillUnknown: stillUnknown))
    }

    // MARK: Upstream

    private func send(keyID: Int64, freshConnection: Bool) {
        guard let admission, let secret = secrets[keyID], let injection else { return }
        scrubber = SecretScrubber.cached(secret: secret)
        var headers = baseHeaders
        var query = admission.upstreamQuery
        injection.apply(secret: secret, headers: &headers, query: &query)
        let origin = UpstreamOrigin(admission.target)
        headers.replaceOrAdd(name: "Host", value: origin.hostHeader)
        if body.readableBytes > 0 || head.method == .POST || head.method == .PUT || head.method == .PATCH {
            headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        }
        let uri = query.map { admission.upstreamPath + "?" + $0 } ?? admission.upstreamPath
        let upstreamHead = HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: headers)
        reading = .awaitingHead(sentAt: now)
        lastUpstreamActivity = now
        armTimer()
        if !freshConnection, let idle = connector.idleConnection(to: origin) {
            connectionWasReused = true
            connection = idle
            idle.send(head: upstreamHead, body: body, to: self)
            return
        }
        connectionWasReused = false
        connector.connect(to: origin).assumeIsolated().whenComplete { result in
            guard !self.isFinished else {
                if case .success(let connection) = result { connection.close() }
                return
            }
            switch result {
            case .success(let connection):
                self.connection = connection
                self.lastUpstreamActivity = self.now
                connection.send(head: upstreamHead, body: self.body, to: self)
            case .failure(let error):
                self.cancelTimer()
                self.reading = .none
                var timedOut = false
                if case .connectTimeout = error as? ChannelError { timedOut = true }
                let failure = ProxyStateMachine.Failure.notConnected(timedOut: timedOut)
                self.service.logger.debug("upstream connect failed", metadata: ["error": "\(type(of: error))", "request_id": "\(self.requestID)"])
                self.handle(.transportFailed(failure, now: self.now))
            }
        }
    }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard !isFinished else { return }
        lastUpstreamActivity = now
        switch (part, reading) {
        case (.head(let answer), .awaitingHead(let sentAt)):
            let status = Int(answer.status.code)
            upstreamStatus = status
            slugMetrics.upstreamLatency.recordNanoseconds(Int64((now - sentAt).nanoseconds))
            upstreamWait += Int64((now - sentAt).nanoseconds)
            let plan = AnswerBodyPlan(route: route.kind, status: status, headers: answer.headers, converts: conversion != nil)
            if case .unreadable(let encoding) = plan.coding { return refuseUnreadable(encoding: encoding) }
            bodyPlan = plan
            streamScrubber = nil
            inflater = nil
            if plan.coding == .inflate {
                guard let decoder = try? BodyInflater() else { return refuseUnreadable(encoding: "gzip") }
                inflater = decoder
            }
            // A decoded body's length is unknown until its end: it streams (or is read as an error body).
            let answerHeaders = plan.clientFacing(answer.headers)
            let delivery = conversion?.delivery(status: status)
                ?? machine?.delivery(status: status, headers: answerHeaders, method: head.method) ?? .stream
            switch delivery {
            case .stream:
                reportDelivered()
                // Scrubbing keeps every length: a declared `Content-Length` stays true.
                streamScrubber = plan.scrubs ? scrubber.map(StreamingSecretScrubber.init) : nil
                var headers = HeaderPolicy.clientHeaders(
                    from: answerHeaders, keepContentLength: answerHeaders.contains(name: "content-length") && conversion == nil,
                    scrubbing: scrubber
                )
                if let contentType = conversion?.startStream() {
                    // The converted stream's bytes differ from the upstream's: its length and encoding are not ours.
                    headers.remove(name: "content-encoding")
                    headers.replaceOrAdd(name: "Content-Type", value: contentType)
                }
                addOwnHeaders(&headers)
                responseStatus = status
                answeredAt = now
                reading = .streaming
                // Held until the first body bytes or the end of this read: an answer that breaks right after its head
                // (bad chunk framing, a closed connection) becomes a 502, not a cut connection.
                heldHead = HTTPResponseHead(version: head.version, status: answer.status, headers: headers)
            case .whole(let declared):
                reading = .whole(status: status, headers: answerHeaders, body: context.channel.allocator.buffer(capacity: declared), declared: declared)
            case .readErrorBody:
                isAnswerCut = false
                reading = .errorBody(status: status, headers: answerHeaders, body: ByteBuffer())
            }
        case (.body(let part), .streaming):
            guard let chunk = readableStreamPart(part), chunk.readableBytes > 0 else { return }
            writeHeldHead()
            if conversion != nil {
                // Each upstream event converted as soon as it is complete; a part that completes none writes nothing.
                if let converted = conversion?.feed(chunk), !converted.isEmpty {
                    context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: converted)))), promise: nil)
                }
            } else {
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(chunk))), promise: nil)
            }
            if !context.channel.isWritable {
                context.flush()
                followClientWritability()
            }
        case (.body(var chunk), .whole(let status, let headers, var collected, let declared)):
            reading = .none
            if collected.readableBytes + chunk.readableBytes <= declared { collected.writeBuffer(&chunk) }
            reading = .whole(status: status, headers: headers, body: collected, declared: declared)
        case (.body(let part), .errorBody(let status, let headers, var collected)):
            reading = .none
            let limit = answerLimit(status: status)
            // Read past the cut by the longest form of the key, so one straddling it is scrubbed whole before the cut.
            let room = limit + max((scrubber?.longestOccurrence ?? 1) - 1, 0) - collected.readableBytes
            if room > 0 {
                // Decoded only while there is room: a compressed error body never inflates past it.
                var chunk = inflater.map { (try? $0.inflate(part)) ?? ByteBuffer() } ?? part
                if collected.readableBytes + chunk.readableBytes > limit { isAnswerCut = true }
                if let slice = chunk.readSlice(length: min(room, chunk.readableBytes)) { collected.writeImmutableBuffer(slice) }
            } else if part.readableBytes > 0 {
                isAnswerCut = true
            }
            reading = .errorBody(status: status, headers: headers, body: collected)
        case (.end, .streaming):
            if inflater != nil {
                guard (try? inflater?.finish()) != nil else { return abandonStream() }
            }
            writeHeldHead()
            releaseUpstream()
            if var rest = streamScrubber?.finish(), rest.readableBytes > 0 {
                if conversion != nil, let converted = conversion?.feed(rest), !converted.isEmpty {
                    rest = context.channel.allocator.buffer(bytes: converted)
                }
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(rest))), promise: nil)
            }
            if let closing = conversion?.finishStream(), !closing.isEmpty {
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: closing)))), promise: nil)
            }
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
            finish(completed: true)
        case (.end, .whole(let status, let answerHeaders, let collected, let declared)):
            releaseUpstream()
            guard collected.readableBytes == declared else {
                handle(.answerBrokeOff(received: collected.readableBytes, declared: declared, timedOut: false, now: now))
                return
            }
            reportDelivered()
            var headers = HeaderPolicy.clientHeaders(from: answerHeaders, keepContentLength: true, scrubbing: scrubber)
            addOwnHeaders(&headers)
            let body = bodyPlan?.scrubs == true ? scrubber?.scrub(collected) ?? collected : collected
            writeWhole(status: HTTPResponseStatus(statusCode: status), headers: headers, body: body)
        case (.end, .errorBody(let status, let headers, let collected)):
            releaseUpstream()
            handle(.answerRead(status: status, headers: headers, body: collected, now: now))
        default:
            break
        }
    }

    func upstreamReadComplete() {
        guard case .streaming = reading else { return }
        writeHeldHead()
        context.flush()
        followClientWritability()
    }

    /// Writes the streamed answer's head, if it is still held.
    private func writeHeldHead() {
        guard let held = heldHead else { return }
        heldHead = nil
        context.write(NIOAny(HTTPServerResponsePart.head(held)), promise: nil)
    }

    /// Upstream reads follow the client's writability as it is now, after every flush and every writability change:
    /// a change fired inside a flush (the socket drained while it was written) can never be overtaken by a pause
    /// decided before it, so no wake-up is lost whatever order flushes, writability changes and reads come in. Only a
    /// stream is paused: an answer read whole writes nothing to the client until it is complete.
    private func followClientWritability() {
        guard let connection else { return }
        if context.channel.isWritable {
            connection.resumeReads()
        } else if case .streaming = reading {
            connection.pauseReads()
        }
    }

    func upstreamFailed(_ failure: UpstreamConnectionFailure) {
        guard !isFinished else { return }
        connection = nil
        cancelTimer()
        let state = reading
        reading = .none
        switch state {
        case .none:
            return
        case .awaitingHead:
            if connectionWasReused, !freshConnectionRetried, !failure.isTLS, let key = machine?.currentKey {
                // A kept-alive connection the upstream had closed: once more on a fresh one, not held against the key.
                freshConnectionRetried = true
                send(keyID: key, freshConnection: true)
                return
            }
            if case .tls(let reason) = failure {
                handle(.transportFailed(.tls(reason), now: now))
            } else {
                handle(.transportFailed(.closed, now: now))
            }
        case .whole(_, _, let collected, let declared):
            handle(.answerBrokeOff(received: collected.readableBytes, declared: declared, timedOut: false, now: now))
        case .errorBody(let status, let headers, let collected):
            handle(.answerRead(status: status, headers: headers, body: collected, now: now))
        case .streaming:
            endBrokenStream(because: "the upstream's answer broke off right after its head (\(failure.summary))")
        }
    }

    /// A streamed answer that cannot go on. While only its head came (still held), the client gets a 502 in its
    /// format instead of a cut; once bytes have reached it, nothing can be retried: its connection closes so it sees
    /// the cut.
    private func endBrokenStream(because reason: String) {
        if heldHead != nil {
            heldHead = nil
            return writeError(status: .badGateway, kind: .upstreamUnavailable, message: reason, format: admission?.format, extraHeaders: [])
        }
        closeAfter = true
        context.close(promise: nil)
        finish(completed: false)
    }

    // MARK: Answer bodies (decoding, scrubbing, the cut)

    /// A streamed part as the client may read it: decoded, scrubbed (some bytes may wait for the next part). Nil when
    /// a compressed body turned out corrupt: the stream is abandoned.
    private func readableStreamPart(_ part: ByteBuffer) -> ByteBuffer? {
        var chunk = part
        if let inflater {
            guard let decoded = try? inflater.inflate(part) else {
                abandonStream()
                return nil
            }
            chunk = decoded
        }
        if streamScrubber != nil { chunk = streamScrubber!.feed(chunk) }
        return chunk
    }

    /// A streamed answer whose body cannot be read to its end (its compression broke): as for an upstream that broke off.
    private func abandonStream() {
        closeUpstream()
        endBrokenStream(because: "the upstream's compressed answer could not be decoded")
    }

    /// An answer in an encoding the relay cannot check for keys never reaches the client: a 502 instead.
    private func refuseUnreadable(encoding: String) {
        closeUpstream()
        writeError(status: .badGateway, kind: .upstreamUnavailable, message: AnswerBodyPlan.unreadableMessage(encoding),
                   format: admission?.format, extraHeaders: [])
    }

    /// The most of a read-whole answer the client gets: error bodies are cut at 1 MiB, converted answers at 32 MiB.
    private func answerLimit(status: Int) -> Int {
        conversion != nil && (200..<300).contains(status) ? machine?.limits.convertedAnswerLimit ?? 0 : machine?.limits.errorBodyLimit ?? 0
    }

    /// A 2xx answer went (or is going) to the client: the key served.
    private func reportDelivered() {
        guard let key = machine?.currentKey else { return }
        report(.success, key: key)
    }

    private func releaseUpstream() {
        cancelTimer()
        reading = .none
        guard let connection else { return }
        self.connection = nil
        connector.release(connection)
    }

    private func closeUpstream() {
        cancelTimer()
        reading = .none
        connection?.close()
        connection = nil
    }

    // MARK: Read timeout

    /// One timer per attempt, re-armed only when it fires early: activity costs a clock read, not a reschedule.
    private func armTimer() {
        guard timer == nil else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: attemptDeadline) { self.timerFired() }
    }

    /// When the current attempt times out: `PROXY_TIMEOUT` after the upstream's last sign of life and, until the answer
    /// starts going to the client, never past the request's overall deadline (`PROXY_TOTAL_TIMEOUT`), so all the
    /// attempts of one request fit in it.
    private var attemptDeadline: NIODeadline {
        let silence = lastUpstreamActivity + service.limits.timeout
        if case .streaming = reading { return silence }
        guard let overall = machine?.deadline else { return silence }
        return min(silence, overall)
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    private func timerFired() {
        timer = nil
        guard !isFinished else { return }
        if now < attemptDeadline {
            armTimer()
            return
        }
        let state = reading
        switch state {
        case .none:
            return
        case .awaitingHead:
            closeUpstream()
            handle(.transportFailed(.timedOut, now: now))
        case .whole(_, _, let collected, let declared):
            closeUpstream()
            handle(.answerBrokeOff(received: collected.readableBytes, declared: declared, timedOut: true, now: now))
        case .errorBody(let status, let headers, let collected):
            closeUpstream()
            handle(.answerRead(status: status, headers: headers, body: collected, now: now))
        case .streaming:
            closeUpstream()
            closeAfter = true
            context.close(promise: nil)
            finish(completed: false)
        }
    }

    // MARK: Answers

    /// A browser's CORS preflight from an allowed origin (`CORS_ALLOWED_ORIGINS`).
    private func answerPreflight(origin: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Access-Control-Allow-Methods", value: "GET, POST, PUT, PATCH, DELETE, OPTIONS")
        headers.add(name: "Access-Control-Allow-Headers", value: head.headers.first(name: "access-control-request-headers") ?? "Authorization, Content-Type")
        headers.add(name: "Access-Control-Max-Age", value: "600")
        headers.add(name: "Content-Length", value: "0")
        addOwnHeaders(&headers)
        writeWhole(status: .noContent, headers: headers, body: ByteBuffer())
    }

    private func addOwnHeaders(_ headers: inout HTTPHeaders) {
        headers.add(name: "X-Request-ID", value: requestID)
        if let corsOrigin {
            headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: corsOrigin)
            headers.add(name: "Vary", value: "Origin")
        }
        if closeAfter { headers.replaceOrAdd(name: "Connection", value: "close") }
    }

    private func deliverFinal(_ answer: ProxyStateMachine.FinalAnswer) {
        switch answer {
        case .upstream(let status, let upstreamHeaders, let rawBody):
            // An error answer passed on is scrubbed of the key it was sent with, headers and body; then cut to its limit
            // (read past it by the key's longest form, so a key across the cut is scrubbed whole).
            var body = scrubber?.scrub(rawBody) ?? rawBody
            let limit = answerLimit(status: status)
            if body.readableBytes > limit { body = body.getSlice(at: body.readerIndex, length: limit) ?? body }
            if let conversion = conversion {
                if isAnswerCut, (200..<300).contains(status), let limit = machine?.limits.convertedAnswerLimit {
                    return writeError(
                        status: .badGateway, kind: .upstreamUnavailable,
                        message: "The upstream's answer is larger than \(limit >> 20) MiB, the most a converted answer is read whole; ask for a stream instead.",
                        format: admission?.format, extraHeaders: [])
                }
                // Judged on the upstream's raw answer; the client gets it in its own format.
                return writeConverted(conversion.convertWhole(status: status, headers: upstreamHeaders, body: body))
            }
            var headers = HeaderPolicy.clientHeaders(from: upstreamHeaders, keepContentLength: false, scrubbing: scrubber)
            headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
            addOwnHeaders(&headers)
            writeWhole(status: HTTPResponseStatus(statusCode: status), headers: headers, body: body)
        case .error(let failure):
            if answer.isAllKeysCooling { slugMetrics.allKeysCooling.increment() }
            writeError(status: HTTPResponseStatus(statusCode: failure.status), kind: failure.kind, message: failure.message,
                       format: admission?.format, extraHeaders: failure.retryAfter.map { [("Retry-After", String($0))] } ?? [])
        }
    }

    private func refuse(_ refusal: ProxyRequestGate.Refusal) {
        guard !isFinished, !isRefused else { return }
        isRefused = true
        if refusal.status == .unauthorized { service.wrongKeys.recordWrongKey(address: clientAddress()) }
        if isReceivingRequest {
            // The body was not (fully) read. A small rest is read and dropped so the connection stays usable; a large or
            // unknown one is not worth reading: the connection closes after the answer.
            let declared = head.headers.first(name: "content-length").flatMap(Int.init)
            if let declared, declared - body.readableBytes <= Self.bodyWorthDraining, refusal.status != .payloadTooLarge {
                awaitsEndAfterRefusal = true
            } else {
                closeAfter = true
            }
        }
        writeError(status: refusal.status, kind: refusal.kind, message: refusal.message, format: refusal.format, extraHeaders: refusal.extraHeaders,
                   presetBody: refusal.body)
    }

    private func writeError(
        status: HTTPResponseStatus, kind: ClientErrorShape.Kind, message: String, format: APIFormat?, extraHeaders: [(String, String)],
        presetBody: [UInt8]? = nil
    ) {
        let body = presetBody.map { ByteBuffer(bytes: $0) } ?? ClientErrorShape.body(kind: kind, status: Int(status.code), message: message, format: format)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        addOwnHeaders(&headers)
        writeWhole(status: status, headers: headers, body: body)
    }

    /// A converted answer (or the 400 for a client body that could not be converted), in the client's format.
    private func writeConverted(_ answer: ClientAnswer) {
        recordUsage(answer.usage)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: answer.contentType)
        headers.add(name: "Content-Length", value: String(answer.body.count))
        if let retryAfter = answer.retryAfter { headers.add(name: "Retry-After", value: retryAfter) }
        addOwnHeaders(&headers)
        writeWhole(status: HTTPResponseStatus(statusCode: answer.status), headers: headers, body: context.channel.allocator.buffer(bytes: answer.body))
    }

    /// Adds the tokens a converted answer reported to the config's counters and to the serving key's usage, once.
    private func recordUsage(_ usage: TokenUsage?) {
        guard !isUsageRecorded, let usage else { return }
        isUsageRecorded = true
        slugMetrics.inputTokens.increment(by: Int64(usage.inputTokens))
        slugMetrics.outputTokens.increment(by: Int64(usage.outputTokens))
        if let key = machine?.currentKey {
            service.coordinator.recordTokens(key: key, input: Int64(usage.inputTokens), output: Int64(usage.outputTokens))
        }
    }

    /// Head, body and end in one flush: a small answer leaves in one write.
    private func writeWhole(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer) {
        responseStatus = Int(status.code)
        answeredAt = answeredAt ?? now
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if body.readableBytes > 0, head.method != .HEAD {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        // With the rest of a refused body still to drop, the exchange ends with the request's end.
        if !awaitsEndAfterRefusal { finish(completed: true) }
    }

    private func finish(completed: Bool) {
        guard !isFinished else { return }
        isFinished = true
        cancelTimer()
        // A converted stream's tokens as far as it went: all of them at its end, what was reported if the client left.
        recordUsage(conversion?.streamUsage)
        let status = responseStatus == 0 ? 499 : responseStatus
        service.metrics.requestFinished(slug: metricsSlug, status: status, format: metricsFormat)
        service.metrics.requestCompleted(pool: trafficPool, status: status, addedNanoseconds: Int64(((answeredAt ?? now) - started).nanoseconds) - upstreamWait)
        if service.accessLog.isEnabled {
            let elapsed = now - started
            service.accessLog.append(AccessLogWriter.Line(
                method: head.method.rawValue, path: String(route.path), status: status,
                durationMilliseconds: Double(elapsed.nanoseconds) / 1e6, requestID: requestID, slug: route.slug,
                upstreamStatus: upstreamStatus, keyID: machine?.currentKey, retries: max((machine?.attempts ?? 1) - 1, 0), completed: completed
            ))
        }
        owner?.exchangeFinished(self, closeConnection: closeAfter)
    }
}

extension UpstreamConnectionFailure {
    fileprivate var isTLS: Bool {
        if case .tls = self { return true }
        return false
    }

    /// For the client's 502: what went wrong, without addresses.
    fileprivate var summary: String {
        switch self {
        case .closed: return "the connection closed"
        case .tls: return "TLS failure"
        case .broken: return "malformed answer"
        }
    }
}

extension KeyOutcome {
    fileprivate var rejectionReason: String? {
        if case .rejected(let reason) = self { return reason }
        return nil
    }
}
