import ClientAccess
import ConfigCatalog
import FormatConversion
import Foundation
import KeyCoordination
import NIOCore
import NIOHTTP1
import UpstreamProviders

/// The exchange's request and keys: the upstream request built once, keys asked for and adopted, the store caught up
/// with, and the key outcomes reported (the final answer waits for the failures among them).
extension ProxyExchange {
    /// The body is complete and authenticated: converted once (every key gets the same upstream request), then the
    /// key machine starts.
    func prepare(body: ByteBuffer) {
        guard let admission else { preconditionFailure("a request prepared without an admission") }
        let clientBody = body
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
        request = PreparedRequest(body: body, headers: headers, injection: injection, path: target.path, query: target.query,
                                  origin: UpstreamOrigin(admission.target), model: model)
        let keys = ProxyStateMachine(
            slug: config.slug, limits: machine.limits,
            blame: RequestBlame(rules: RequestBlame.Rules(settings: service.settings, config: config), method: head.method.rawValue, model: model),
            classifier: UpstreamAnswerClassifier(config: config, route: route.kind), startedAt: now, wallClock: service.wallClock
        )
        var quotaRequest: QuotaRequest?
        if let clientKey {
            let check = clientKeyCheck(clientKey, clientBody: clientBody, upstreamModel: model)
            if let refusal = check.refusal { return run(machine.preparedRefused(refusal)) }
            quotaRequest = check.quota
        }
        run(machine.requestPrepared(keys: keys, conversion: conversion?.reading, quota: quotaRequest))
    }

    func acquireKey(excluding excluded: Set<Int64>) {
        guard let poolID = admission?.pool.config.id else { preconditionFailure("a key asked for without an admission") }
        let model = request?.model
        if let acquisition = service.coordinator.acquireKeyImmediately(pool: poolID, excluding: excluded, model: model) {
            return offered(acquisition)
        }
        service.coordinator.acquireKey(pool: poolID, excluding: excluded, model: model, on: context.eventLoop).assumeIsolated().whenComplete { result in
            self.offered((try? result.get()) ?? .unavailable(retryAfter: 1))
        }
    }

    func offered(_ acquisition: KeyAcquisition) {
        var isKnown = true
        if case .key(let id) = acquisition { isKnown = knows(key: id) }
        run(machine.keyOffered(acquisition, isKnown: isKnown, storeReachable: service.catalog.storeReachable, now: now))
    }

    /// Whether this request can use the key; adopts the catalog's fresher keys when it has caught up since the request
    /// started and the config still points where it did.
    func knows(key id: Int64) -> Bool {
        if secrets[id] != nil { return true }
        guard let admission, let fresher = service.catalog.pool(configID: admission.pool.config.id), fresher.secrets[id] != nil,
            fresher.routesLike(admission.pool)
        else { return false }
        secrets = fresher.secrets
        return true
    }

    /// After a catch-up: the catalog's keys, when the config still points where it did.
    func adoptFresherKeys() {
        guard let admission, let fresher = service.catalog.pool(configID: admission.pool.config.id), fresher.routesLike(admission.pool) else { return }
        secrets = fresher.secrets
    }

    /// The cache is behind the coordinator: re-read this config once, waiting at most `limit`, then go on with whatever
    /// the catalog holds (the second of the two wake-ups is ignored by the machine).
    func catchUp(limit: TimeAmount) {
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

    func caughtUp() {
        catchUpTimer?.cancel()
        catchUpTimer = nil
        adoptFresherKeys()
        let secrets = self.secrets
        run(machine.caughtUp(stillUnknown: { $0.filter { secrets[$0] == nil } }, now: now))
    }

    func report(_ outcome: KeyOutcome, key: Int64) {
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

    func awaitBeforeAnswering(_ future: EventLoopFuture<Void>) {
        pendingReports = pendingReports.map { $0.and(future).map { _ in } } ?? future
    }

    /// Most keys of the pool rate limited within a short window: an account- or IP-wide limit. The pool rests as a
    /// whole until the reset instead of key by key.
    func watchPool(key: Int64, cooldown: Double) {
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
}

/// The config's labels for metrics and traffic (unknown until the slug names a pool).
struct MetricLabels {
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
