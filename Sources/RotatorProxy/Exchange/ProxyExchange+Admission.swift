import ClientAccess
import NIOCore
import NIOHTTP1
import RequestIdentity
import UpstreamProviders

/// The client key's admission: its model allow-list, then one request to its quota (answered at once in memory; through
/// Redis in the same tick as the first key, so both go out in one write), the `x-ratelimit-*` headers of its answers,
/// the lease renewed while the request runs, and exactly one settle or release when the exchange ends.
extension ProxyExchange {
    /// A client key's check once its request is prepared: a 403 for a model it may not name, else what to ask of its
    /// quota (nil: no limits, or no quota wired). `clientBody` is the body as the client sent it (before conversion).
    func clientKeyCheck(_ key: ClientKey, clientBody: ByteBuffer, upstreamModel: String?) -> (refusal: ProxyRequestGate.Refusal?, quota: QuotaRequest?) {
        if key.needsModel, route.kind == .llm {
            // The allow-list names models as the client does: a converting config's client model, before any mapping.
            let model = conversion == nil ? upstreamModel
                : RequestModel.name(dialect: UpstreamDialect(format: admission?.format ?? .openAICompatible), path: String(route.rest), body: clientBody)
            if let refusal = ProxyRequestGate.modelRefusal(key, model: model, method: head.method, route: route.kind, format: admission?.format) {
                return (refusal, nil)
            }
        }
        guard service.clientQuota != nil, !key.limits.isEmpty else { return (nil, nil) }
        let reserved = key.limits.limitsTokens ? TokenReservation.tokens(
            body: clientBody, defaultMaxTokens: admission?.pool.config.defaultMaxTokens.map(Int64.init) ?? service.settings.clientKeyDefaultMaxTokens
        ) : 0
        // The lease names this request alone: an id the client chose could be sent by two requests at once.
        let lease = head.headers.contains(name: "x-request-id") ? requestID + "." + RequestIdentifier.make() : requestID
        return (nil, QuotaRequest(clientKey: key.id, limits: key.limits, reservedTokens: reserved, lease: lease))
    }

    func admit(_ request: QuotaRequest) {
        guard let quota = service.clientQuota else { preconditionFailure("an admission without a quota") }
        if let decision = quota.admitImmediately(request) { return quotaDecided(decision) }
        let answer = quota.admit(request, on: context.eventLoop)
        // The first key is asked for in this same tick: the quota's and the pool's commands leave in one write.
        run(machine.quotaPending())
        answer.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let decision): self.quotaDecided(decision)
            case .failure: self.run(self.machine.quotaFailed())
            }
        }
    }

    private func quotaDecided(_ decision: QuotaDecision) {
        if !machine.isFinished {
            switch decision {
            case .admitted(_, let states), .refused(_, _, _, let states): quotaStates = states
            }
        }
        run(machine.quotaDecided(decision, now: now))
        if machine.renewsLease { leaseOwner?.exchangeHoldsLease(self) }
    }

    /// The concurrency lease lives `QuotaLease.seconds`; the connection's renewal timer calls this every
    /// `QuotaLease.renewEvery` s until the exchange ends. Returns whether the lease still needs renewing.
    func leaseRenewalDue() -> Bool {
        run(machine.renewalDue())
        return machine.renewsLease
    }

    /// Settles an admission with the tokens the answer reported (0 when it reported none), or gives it back.
    func endAdmission(_ call: ExchangeStateMachine.QuotaCall) {
        guard let quota = service.clientQuota else { return }
        switch call {
        case .settle(let ticket):
            let used = Int64((answerUsage?.inputTokens ?? 0) + (answerUsage?.outputTokens ?? 0))
            quota.settle(ticket, usedTokens: used, on: context.eventLoop)
        case .release(let ticket):
            quota.release(ticket, on: context.eventLoop)
        }
    }
}

/// `x-ratelimit-limit-<suffix>`, `x-ratelimit-remaining-<suffix>` and `x-ratelimit-reset-<suffix>` (seconds, `12s`) for
/// each limit a client key has, as its admission saw them; they replace an upstream's headers of the same names.
enum ClientKeyHeaders {
    /// Each limit's three header names: OpenAI's names for the per-minute limits (`x-ratelimit-limit-requests`,
    /// `…-tokens`), then `…-concurrent`, `…-requests-day`, `…-requests-month`, `…-tokens-day`, `…-tokens-month`. String
    /// literals, so the headers that carry them are copied without reference counting.
    static func names(_ limit: QuotaLimit) -> (limit: String, remaining: String, reset: String) {
        switch limit {
        case .rpm: ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests")
        case .tpm: ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")
        case .concurrent: ("x-ratelimit-limit-concurrent", "x-ratelimit-remaining-concurrent", "x-ratelimit-reset-concurrent")
        case .dailyRequests: ("x-ratelimit-limit-requests-day", "x-ratelimit-remaining-requests-day", "x-ratelimit-reset-requests-day")
        case .monthlyRequests: ("x-ratelimit-limit-requests-month", "x-ratelimit-remaining-requests-month", "x-ratelimit-reset-requests-month")
        case .dailyTokens: ("x-ratelimit-limit-tokens-day", "x-ratelimit-remaining-tokens-day", "x-ratelimit-reset-tokens-day")
        case .monthlyTokens: ("x-ratelimit-limit-tokens-month", "x-ratelimit-remaining-tokens-month", "x-ratelimit-reset-tokens-month")
        }
    }

    private static let prefix = Array("x-ratelimit-".utf8)

    /// `x-ratelimit-…` in any case, without building a lowercased copy.
    private static func isRateLimitHeader(_ name: String) -> Bool {
        name.utf8.count > prefix.count && HeaderNameSet.hasPrefixIgnoringASCIICase(name, prefix)
    }

    static func add(_ states: [LimitState], to headers: inout HTTPHeaders) {
        guard !states.isEmpty else { return }
        // An upstream's own rate-limit headers of the same names go first (one look over the headers; usually none).
        if headers.contains(where: { isRateLimitHeader($0.name) }) {
            for (name, value) in pairs(states) { headers.replaceOrAdd(name: name, value: value) }
        } else {
            // Appended as one block: the names are ours (ASCII, none of them `Connection`), so the per-header checks of
            // `add(name:value:)` and the array's regrowth header by header are skipped (up to 21 headers per answer).
            headers.add(contentsOf: HTTPHeaders(pairs(states)))
        }
    }

    private static func pairs(_ states: [LimitState]) -> [(String, String)] {
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(states.count * 3)
        for state in states {
            let name = names(state.limit)
            pairs.append((name.limit, String(state.value)))
            pairs.append((name.remaining, String(max(state.remaining, 0))))
            pairs.append((name.reset, String(Int(max(state.resetSeconds, 0).rounded(.up))) + "s"))
        }
        return pairs
    }
}

/// The tokens a client key's request reserves until its answer says what it used: its max output tokens
/// (`max_tokens`, `max_completion_tokens`, `max_output_tokens`, Gemini's `generationConfig.maxOutputTokens`; else
/// the config's `default_max_tokens`, else `CLIENT_KEY_DEFAULT_MAX_TOKENS`) plus its input, estimated at 4 bytes a token.
enum TokenReservation {
    static func tokens(body: ByteBuffer, defaultMaxTokens: Int64) -> Int64 {
        (RequestModel.maxOutputTokens(body) ?? defaultMaxTokens) + Int64(body.readableBytes / 4)
    }
}
