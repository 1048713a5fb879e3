import KeyCoordination
@testable import RotatorProxy
import Testing
@testable import UpstreamProviders

@Suite struct RequestBlameTests {
    let rules = RequestBlame.Rules(maxRetries: 3, defaultCooldown: 60, quotaCooldown: 3600, retryAfterReadTimeout: false, timeout: 30)

    private func answer(_ status: Int, _ blame: AnswerBlame, signature: String? = nil) -> UpstreamAnswer {
        UpstreamAnswer(status: status, blame: blame, signature: signature ?? "\(status)", reason: "upstream answered \(status)")
    }

    @Test func twoKeysAgreeingOnTheRequestsFaultEndTheRotation() {
        var blame = RequestBlame(rules: rules, method: "POST")
        let permission = answer(403, .request(dependsOnKey: true), signature: "403|permission_error")
        let first = blame.judge(permission, key: 1)
        #expect(first.next == .tryAnotherKey, "another key may have the permission")
        #expect(first.outcomes == [.success], "the key authenticated: it is not benched")
        let second = blame.judge(permission, key: 2)
        #expect(second.next == .deliver)
        #expect(second.outcomes == [.success])
        #expect(blame.upstreamCalls == 2)
    }

    @Test func theSameKeyTwiceIsNoAgreement() {
        var blame = RequestBlame(rules: rules, method: "POST")
        let permission = answer(403, .request(dependsOnKey: true))
        #expect(blame.judge(permission, key: 1).next == .tryAnotherKey)
        #expect(blame.judge(permission, key: 1).next == .tryAnotherKey)
        #expect(blame.judge(permission, key: 2).next == .deliver)
    }

    @Test func aRequestNoKeyCouldServeCostsOneCall() {
        var blame = RequestBlame(rules: rules, method: "POST")
        let step = blame.judge(answer(400, .request(dependsOnKey: false)), key: 1)
        #expect(step.next == .deliver)
        #expect(step.outcomes == [.success])
    }

    /// Whatever the keys answer for the request's own reasons, it never costs more than `requestAnswerLimit` calls.
    @Test func requestFaultsAreBounded() {
        var blame = RequestBlame(rules: rules, method: "POST")
        var calls = 0
        var next = RequestBlame.Next.tryAnotherKey
        var key: Int64 = 0
        while next == .tryAnotherKey, key < 10 {
            key += 1
            calls += 1
            // Every key gives a different key-dependent refusal: no two agree.
            next = blame.judge(answer(403, .request(dependsOnKey: true), signature: "403|\(key)"), key: key).next
        }
        #expect(next == .deliver)
        #expect(calls == RequestBlame.Rules.requestAnswerLimit)
        #expect(RequestBlame.Rules.requestAnswerLimit == 3)
    }

    @Test func onlyKeyEvidenceBenchesAKey() {
        var blame = RequestBlame(rules: rules, method: "POST")
        #expect(blame.judge(answer(401, .keyInvalid), key: 1) == .init(report: .rejected(reason: "upstream answered 401"), next: .tryAnotherKey))
        let exhausted = blame.judge(answer(429, .keyExhausted(retryAfter: nil)), key: 2)
        #expect(exhausted.outcomes == [.quotaExhausted(cooldown: 3600, reason: "upstream answered 429")], "a long cooldown, not 60 s")
        let longer = blame.judge(answer(429, .keyExhausted(retryAfter: 7200)), key: 3)
        #expect(longer.outcomes == [.quotaExhausted(cooldown: 7200, reason: "upstream answered 429")])
        #expect(blame.judge(answer(429, .rateLimited(retryAfter: 12)), key: 4).outcomes == [.rateLimited(cooldown: 12)])
        #expect(blame.judge(answer(429, .rateLimited(retryAfter: nil)), key: 5).outcomes == [.rateLimited(cooldown: 60)])
        #expect(blame.judge(answer(200, .success), key: 6) == .init(report: .success, next: .deliver))
    }

    @Test func upstreamFailuresSpendTheBudgetAndStopWhenKeysAgree() {
        var blame = RequestBlame(rules: rules, method: "POST")
        #expect(blame.judge(answer(503, .upstream, signature: "503|a"), key: 1).next == .tryAnotherKey)
        #expect(blame.judge(answer(502, .upstream, signature: "502"), key: 2).next == .tryAnotherKey)
        let agreed = blame.judge(answer(503, .upstream, signature: "503|a"), key: 3)
        #expect(agreed.next == .deliver, "two keys got the same failure: the upstream's answer goes to the client")
        #expect(agreed.outcomes == [.upstreamFailure(reason: "upstream answered 503")])

        var budget = RequestBlame(rules: RequestBlame.Rules(maxRetries: 1, defaultCooldown: 60, quotaCooldown: 3600, retryAfterReadTimeout: false, timeout: 30),
                                  method: "POST")
        #expect(budget.judge(answer(500, .upstream, signature: "x"), key: 1).next == .tryAnotherKey)
        #expect(budget.judge(answer(500, .upstream, signature: "y"), key: 2).next == .deliver, "MAX_RETRIES spent")
    }

    // MARK: Retries never duplicate paid work

    @Test func aRequestTheUpstreamNeverGotIsRetried() {
        var blame = RequestBlame(rules: rules, method: "POST")
        let step = blame.judge(.notSent(timedOut: false), key: 1)
        #expect(step.next == .tryAnotherKey)
        #expect(step.outcomes == [.upstreamFailure(reason: "upstream unreachable")])
        #expect(blame.judge(.noAnswer(requestFullySent: false, timedOut: true), key: 2).next == .tryAnotherKey, "not sent in full: not processed")
    }

    @Test func aReadTimeoutAfterAFullySentPostIsNotRetried() {
        var blame = RequestBlame(rules: rules, method: "POST")
        let step = blame.judge(.noAnswer(requestFullySent: true, timedOut: true), key: 1)
        guard case .fail(let failure) = step.next else { Issue.record("expected a failure, got \(step.next)"); return }
        #expect(failure.status == 504)
        #expect(failure.kind == .timeout)
        #expect(failure.message.contains("may already have processed it"))
        #expect(step.report == .upstreamFailure(reason: "upstream did not answer in time"))
        // The same after a 2xx answer that stalled: the upstream may still be at it.
        var stalled = RequestBlame(rules: rules, method: "POST")
        guard case .fail(let brokeOff) = stalled.judge(.answerBrokeOff(received: 10, declared: 90, timedOut: true), key: 1).next else {
            Issue.record("expected a failure"); return
        }
        #expect(brokeOff.status == 504)
        // An answer that broke off, or a connection closed without one, is the upstream saying it failed: another key
        // tries (a short answer is never passed on as a 200).
        var broken = RequestBlame(rules: rules, method: "POST")
        #expect(broken.judge(.answerBrokeOff(received: 10, declared: 90, timedOut: false), key: 1).next == .tryAnotherKey)
        #expect(broken.judge(.noAnswer(requestFullySent: true, timedOut: false), key: 2).next == .tryAnotherKey)
    }

    @Test func idempotentRequestsAndTheConfigsOptInAreRetried() {
        var get = RequestBlame(rules: rules, method: "get")
        #expect(get.judge(.noAnswer(requestFullySent: true, timedOut: true), key: 1).next == .tryAnotherKey)
        var optedIn = rules
        optedIn.retryAfterReadTimeout = true
        var post = RequestBlame(rules: optedIn, method: "POST")
        #expect(post.judge(.noAnswer(requestFullySent: true, timedOut: true), key: 1).next == .tryAnotherKey)
        #expect(post.judge(.answerBrokeOff(received: 1, declared: 2, timedOut: false), key: 2).next == .tryAnotherKey)
    }

    @Test func transportRetriesAreBounded() {
        var blame = RequestBlame(rules: rules, method: "GET")
        for key in 1...3 {
            #expect(blame.judge(.notSent(timedOut: true), key: Int64(key)).next == .tryAnotherKey)
        }
        guard case .fail(let failure) = blame.judge(.notSent(timedOut: true), key: 4).next else { Issue.record("expected a failure"); return }
        #expect(failure.status == 504)
        #expect(blame.upstreamCalls == 4)
    }

    // MARK: Out of keys

    @Test func outOfKeysSaysWhy() {
        var request = RequestBlame(rules: rules, method: "POST")
        _ = request.judge(answer(403, .request(dependsOnKey: true)), key: 1)
        #expect(request.outOfKeys(slug: "s", soonestFree: nil) == .deliverLastAnswer, "the upstream's own answer, blaming no key")

        var rejected = RequestBlame(rules: rules, method: "POST")
        _ = rejected.judge(answer(401, .keyInvalid), key: 1)
        guard case .fail(let invalid) = rejected.outOfKeys(slug: "s", soonestFree: nil) else { Issue.record("expected a failure"); return }
        #expect(invalid.status == 503)

        var exhausted = RequestBlame(rules: rules, method: "POST")
        _ = exhausted.judge(answer(429, .keyExhausted(retryAfter: nil)), key: 1)
        guard case .fail(let noQuota) = exhausted.outOfKeys(slug: "s", soonestFree: nil) else { Issue.record("expected a failure"); return }
        #expect(noQuota.status == 503)
        #expect(noQuota.message.contains("out of credit or quota"))

        var limited = RequestBlame(rules: rules, method: "POST")
        _ = limited.judge(answer(429, .rateLimited(retryAfter: 4)), key: 1)
        #expect(limited.outOfKeys(slug: "s", soonestFree: 3.2)
            == .fail(ProxyFailure(status: 429, kind: .rateLimited, message: "every key of 's' is rate limited; retry after 4 s", retryAfter: 4)))
        guard case .fail(let pool) = limited.outOfKeys(slug: "s", soonestFree: 20, poolCooling: PoolCooling(until: 0, reason: "3 of 4 keys rate limited"))
        else { Issue.record("expected a failure"); return }
        #expect(pool.retryAfter == 20)
        #expect(pool.message.contains("every key of 's' at once (3 of 4 keys rate limited)"))
        guard case .fail(let outOfTime) = limited.outOfKeys(slug: "s", soonestFree: nil) else { Issue.record("expected a failure"); return }
        #expect(outOfTime.status == 429)

        let fresh = RequestBlame(rules: rules, method: "POST")
        guard case .fail(let empty) = fresh.outOfKeys(slug: "s", soonestFree: nil) else { Issue.record("expected a failure"); return }
        #expect(empty.status == 503)
        #expect(empty.message.contains("no usable keys"))
    }

    // MARK: A bare 401 blames a key only when another key answered differently

    private func bare401(_ signature: String = "401") -> UpstreamAnswer {
        UpstreamAnswer(status: 401, blame: .keyInvalid, signature: signature, reason: "upstream answered 401", isStatusOnly: true)
    }

    @Test func twoKeysGivingTheSameBare401IsTheRequestsDoing() {
        var blame = RequestBlame(rules: rules, method: "POST")
        let first = blame.judge(bare401(), key: 1)
        #expect(first.outcomes.isEmpty, "not blamed yet")
        #expect(first.next == .tryAnotherKey)
        let second = blame.judge(bare401(), key: 2)
        #expect(second.next == .deliver, "the upstream's 401 goes to the client")
        #expect(second.report == .upstreamFailure(reason: "upstream answered 401"))
        #expect(second.settled == [.init(key: 1, outcome: .upstreamFailure(reason: "upstream answered 401"))], "an error each, never a rejection")
    }

    @Test func aBare401ThatAnotherKeyServesBlamesItsKey() {
        var blame = RequestBlame(rules: rules, method: "POST")
        _ = blame.judge(bare401(), key: 1)
        let served = blame.judge(answer(200, .success), key: 2)
        #expect(served.next == .deliver)
        #expect(served.report == .success)
        #expect(served.settled == [.init(key: 1, outcome: .rejected(reason: "upstream answered 401"))])
        // A different 401 from the second key also settles the first as the key's fault.
        var other = RequestBlame(rules: rules, method: "POST")
        _ = other.judge(bare401("401|a"), key: 1)
        let differs = other.judge(bare401("401|b"), key: 2)
        #expect(differs.settled == [.init(key: 1, outcome: .rejected(reason: "upstream answered 401"))])
        #expect(differs.report == nil, "the second bare 401 waits for its own settling")
        #expect(differs.next == .tryAnotherKey)
    }

    @Test func aBare401NoOtherKeyAnsweredBlamesNoKey() {
        var blame = RequestBlame(rules: rules, method: "POST")
        _ = blame.judge(bare401(), key: 1)
        #expect(blame.outOfKeys(slug: "s", soonestFree: nil) == .deliverLastAnswer)
        #expect(blame.owedReports == [.init(key: 1, outcome: .upstreamFailure(reason: "upstream answered 401"))])
        // Nor when the next key's attempt failed without an answer and the request ended there.
        var failed = RequestBlame(rules: rules, method: "POST")
        _ = failed.judge(bare401(), key: 1)
        let timeout = failed.judge(.noAnswer(requestFullySent: true, timedOut: true), key: 2)
        #expect(timeout.report == .upstreamFailure(reason: "upstream did not answer in time"))
        #expect(timeout.settled == [.init(key: 1, outcome: .upstreamFailure(reason: "upstream answered 401"))])
        #expect(failed.owedReports.isEmpty, "settled once")
    }

    /// The issue's attack: a client sending requests no key can serve must not invalidate the pool's keys.
    @Test func repeatedBare401sNeverRejectAKey() {
        var rejections = 0
        for _ in 0..<10 {
            var blame = RequestBlame(rules: rules, method: "POST")
            var key: Int64 = 0
            var next = RequestBlame.Next.tryAnotherKey
            while next == .tryAnotherKey, key < 10 {
                key += 1
                let step = blame.judge(bare401(), key: key)
                rejections += step.outcomes.filter { if case .rejected = $0 { return true } else { return false } }.count
                next = step.next
            }
            #expect(key == 2)
        }
        #expect(rejections == 0)
    }

    // MARK: Issue 16: no single request rests the pool

    /// A generic endpoint answering `429 Retry-After: 3600` to everything: one request tries `maxRateLimitedKeys`
    /// keys, then answers 429 with the soonest rest those keys were given.
    @Test func oneRequestTriesAtMostMaxRateLimitedKeys() {
        var blame = RequestBlame(rules: rules, method: "POST")
        #expect(rules.maxRateLimitedKeys == 3, "the default")
        #expect(blame.judge(answer(429, .rateLimited(retryAfter: 3600)), key: 1).next == .tryAnotherKey)
        #expect(blame.judge(answer(429, .keyExhausted(retryAfter: nil)), key: 2).next == .tryAnotherKey, "quota answers count too")
        let third = blame.judge(answer(429, .rateLimited(retryAfter: 600)), key: 3)
        guard case .fail(let failure) = third.next else { Issue.record("expected a 429, got \(third.next)"); return }
        #expect(failure.status == 429 && failure.retryAfter == 600, "the soonest rest: \(failure)")
        #expect(third.outcomes == [.rateLimited(cooldown: 600)], "the third key still gets its own rest")
        var again = RequestBlame(rules: rules, method: "POST")
        _ = again.judge(answer(429, .rateLimited(retryAfter: 1)), key: 1)
        _ = again.judge(answer(429, .rateLimited(retryAfter: 1)), key: 2)
        if case .fail = again.judge(answer(429, .rateLimited(retryAfter: 1)), key: 1).next {} else {
            Issue.record("a key offered again after a short wait counts again: at most 3 rate-limited calls")
        }
        var one = RequestBlame(rules: RequestBlame.Rules(maxRetries: 3, defaultCooldown: 60, quotaCooldown: 3600, retryAfterReadTimeout: false,
                                                         timeout: 30, maxRateLimitedKeys: 1), method: "GET")
        if case .fail = one.judge(answer(429, .rateLimited(retryAfter: 5)), key: 1).next {} else { Issue.record("RATE_LIMIT_MAX_KEYS=1 tries one key") }
    }

    /// A per-model limit rests the key for the request's model; a whole-key limit (or a request naming no model)
    /// rests the key.
    @Test func perModelRestsAreScopedToTheRequestsModel() {
        var perModel = answer(429, .rateLimited(retryAfter: 20))
        perModel.isPerModel = true
        var exhaustedPerModel = answer(429, .keyExhausted(retryAfter: nil))
        exhaustedPerModel.isPerModel = true
        var blame = RequestBlame(rules: rules, method: "POST", model: "gpt-4o")
        #expect(blame.judge(perModel, key: 1).outcomes == [.rateLimited(cooldown: 20, model: "gpt-4o")])
        #expect(blame.judge(exhaustedPerModel, key: 2).outcomes == [.quotaExhausted(cooldown: 3600, reason: "upstream answered 429", model: "gpt-4o")])
        var whole = RequestBlame(rules: rules, method: "POST", model: "gpt-4o")
        #expect(whole.judge(answer(429, .rateLimited(retryAfter: 20)), key: 1).outcomes == [.rateLimited(cooldown: 20)])
        var noModel = RequestBlame(rules: rules, method: "POST")
        #expect(noModel.judge(perModel, key: 1).outcomes == [.rateLimited(cooldown: 20)])
    }

    /// A key offered again to the same request (after a wait) is never struck twice by it.
    @Test func oneStrikePerKeyPerRequest() {
        var blame = RequestBlame(rules: rules, method: "POST")
        let invalid = answer(401, .keyInvalid, signature: "401|invalid_api_key")
        #expect(blame.judge(invalid, key: 1).outcomes == [.rejected(reason: "upstream answered 401")])
        #expect(blame.judge(invalid, key: 1).outcomes == [.upstreamFailure(reason: "upstream answered 401")], "no second strike")
        #expect(blame.judge(invalid, key: 2).outcomes == [.rejected(reason: "upstream answered 401")], "another key's own strike")
    }
}

extension RequestBlame.Step {
    /// Everything this step tells the coordinator, about any key.
    var outcomes: [KeyOutcome] { settled.map(\.outcome) + (report.map { [$0] } ?? []) }
}
