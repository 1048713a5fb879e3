import ClientAccess
import Foundation
import KeyCoordination
import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import RotatorProxy
import Synchronization
import Testing

/// A client key's request through `ProxyExchange` on `EmbeddedChannel`, against a strict recording `ClientQuota`: one
/// admission before anything goes upstream, then exactly one settle or release, lease renewals only in between, and
/// the `x-ratelimit-*` headers on every answer.
@Suite struct ClientKeyExchangeTests {
    typealias Harness = ProxyFrontHandlerTests.Harness

    /// Records every call and fails the test on a second admission of a lease, a settle/release/renew of a ticket it
    /// did not admit or already ended, and (in `verifyEnded`) an admission never settled or released.
    final class StrictQuota: ClientQuota {
        enum Answer { case atOnce(QuotaDecision), later }
        struct Calls {
            var admits: [QuotaRequest] = []
            var settled: [(lease: String, tokens: Int64)] = []
            var released: [String] = []
            var renewed: [String] = []
            var open: Set<String> = []
            var ended: Set<String> = []
            var promises: [EventLoopPromise<QuotaDecision>] = []
        }

        let answer: Answer
        let calls = Mutex(Calls())

        init(_ answer: Answer) { self.answer = answer }

        var admits: [QuotaRequest] { calls.withLock { $0.admits } }
        var settled: [(lease: String, tokens: Int64)] { calls.withLock { $0.settled } }
        var released: [String] { calls.withLock { $0.released } }
        var renewed: [String] { calls.withLock { $0.renewed } }

        private func admitted(_ request: QuotaRequest, _ decision: QuotaDecision) -> QuotaDecision {
            calls.withLock { calls in
                if calls.admits.contains(where: { $0.lease == request.lease }) { Issue.record("admitted twice: \(request.lease)") }
                calls.admits.append(request)
                if case .admitted = decision { calls.open.insert(request.lease) }
            }
            return decision
        }

        func admitImmediately(_ request: QuotaRequest) -> QuotaDecision? {
            guard case .atOnce(let decision) = answer else { return nil }
            return admitted(request, Self.retarget(decision, request))
        }

        func admit(_ request: QuotaRequest, on eventLoop: any EventLoop) -> EventLoopFuture<QuotaDecision> {
            if case .atOnce = answer { Issue.record("admit(_:on:) called although admitImmediately answered") }
            let promise = eventLoop.makePromise(of: QuotaDecision.self)
            calls.withLock { $0.promises.append(promise) }
            return promise.futureResult.map { self.admitted(request, Self.retarget($0, request)) }
        }

        /// Answers the pending admission.
        func complete(_ decision: QuotaDecision) {
            let promise = calls.withLock { $0.promises.removeFirst() }
            promise.succeed(decision)
        }

        /// The decision's ticket for this request.
        static func retarget(_ decision: QuotaDecision, _ request: QuotaRequest) -> QuotaDecision {
            guard case .admitted(_, let states) = decision else { return decision }
            return .admitted(QuotaTicket(request: request, admittedAt: 0), states: states)
        }

        private func end(_ ticket: QuotaTicket, _ record: (inout Calls) -> Void) {
            calls.withLock { calls in
                let lease = ticket.request.lease
                if calls.ended.contains(lease) { Issue.record("settled or released twice: \(lease)") }
                if !calls.open.contains(lease) { Issue.record("ended without an admission: \(lease)") }
                calls.open.remove(lease)
                calls.ended.insert(lease)
                record(&calls)
            }
        }

        func settle(_ ticket: QuotaTicket, usedTokens: Int64, on eventLoop: any EventLoop) {
            end(ticket) { $0.settled.append((ticket.request.lease, usedTokens)) }
        }

        func release(_ ticket: QuotaTicket, on eventLoop: any EventLoop) {
            end(ticket) { $0.released.append(ticket.request.lease) }
        }

        func renew(_ ticket: QuotaTicket, on eventLoop: any EventLoop) {
            calls.withLock { calls in
                if !calls.open.contains(ticket.request.lease) { Issue.record("renewed a lease that is not open: \(ticket.request.lease)") }
                calls.renewed.append(ticket.request.lease)
            }
        }

        func states(clientKey: Int64, limits: ClientKeyLimits) async -> [LimitState] { [] }

        /// Every admission was settled or released.
        func verifyEnded(sourceLocation: SourceLocation = #_sourceLocation) {
            let open = calls.withLock { $0.open }
            if !open.isEmpty { Issue.record("never settled or released: \(open)", sourceLocation: sourceLocation) }
        }
    }

    static let hasher = ClientKeyHasher(encryptionKey: "exchange-test")
    static let secret = ClientKeySecret.generate()
    static let states = [LimitState(limit: .rpm, value: 60, remaining: 59, resetSeconds: 11.5),
                         LimitState(limit: .concurrent, value: 2, remaining: 1, resetSeconds: 0)]
    static let admitted = QuotaDecision.admitted(QuotaTicket(request: QuotaRequest(clientKey: 0, limits: ClientKeyLimits(), reservedTokens: 0, lease: ""),
                                                             admittedAt: 0), states: states)
    static let refused = QuotaDecision.refused(limit: .rpm, value: 60, retryAfter: 11.5,
                                               states: [LimitState(limit: .rpm, value: 60, remaining: 0, resetSeconds: 11.5)])

    static func harness(
        _ quota: StrictQuota, allowedModels: [String]? = nil, limits: ClientKeyLimits = ClientKeyLimits(rpm: 60, maxConcurrent: 2),
        coordinator: any KeyCoordinator = InMemoryKeyCoordinator()
    ) async throws -> Harness {
        let key = ClientKey(id: 7, name: "team-a", allowedModels: try allowedModels?.map { try ModelPattern(parsing: $0) }, limits: limits,
                            secretHash: hasher.hash(secret), secretHint: ClientKeySecret.hint(secret))
        return try Harness(service: try await ProxyFrontHandlerTests.makeService(
            coordinator: coordinator, clientKeys: ClientKeyRegistry(hasher: hasher, keys: [key]), clientQuota: quota
        ))
    }

    static func clientKeyRequest(_ harness: Harness, body: String = #"{"model":"m","max_tokens":100}"#) throws {
        try harness.request(headers: [("Authorization", "Bearer \(secret)")], body: body)
    }

    static func head(_ parts: [HTTPServerResponsePart]) throws -> HTTPResponseHead {
        guard case .head(let head) = parts.first else { throw TestFailure(description: "no answer head: \(parts)") }
        return head
    }

    struct TestFailure: Error, CustomStringConvertible { var description: String }

    static func upstreamHead(_ parts: [HTTPClientRequestPart]) throws -> HTTPRequestHead {
        guard case .head(let head) = parts.first else { throw TestFailure(description: "nothing went upstream") }
        return head
    }

    @Test func admittedAtOnceTheRequestGoesUpstreamWithoutTheClientSecretAndIsSettledOnce() async throws {
        let quota = StrictQuota(.atOnce(Self.admitted))
        let harness = try await Self.harness(quota)
        try Self.clientKeyRequest(harness)
        let upstream = try harness.upstreamRequest()
        let sent = try Self.upstreamHead(upstream)
        #expect(!sent.headers.description.contains(Self.secret), "the client's secret never goes upstream")
        #expect(quota.admits.count == 1)
        #expect(quota.admits.first?.clientKey == 7)
        #expect(quota.admits.first?.reservedTokens == 0, "no token limit: nothing reserved")
        try harness.answer(headers: [("Content-Length", "2"), ("x-ratelimit-limit-requests", "10000")], body: ["{}"])
        let answer = try Self.head(try harness.clientParts())
        #expect(answer.status == .ok)
        #expect(answer.headers["x-ratelimit-limit-requests"] == ["60"], "the client key's limit, not the upstream key's")
        #expect(answer.headers.first(name: "x-ratelimit-remaining-requests") == "59")
        #expect(answer.headers.first(name: "x-ratelimit-reset-requests") == "12s")
        #expect(answer.headers.first(name: "x-ratelimit-limit-concurrent") == "2")
        #expect(quota.settled.count == 1 && quota.settled.first?.tokens == 0 && quota.released.isEmpty)
        quota.verifyEnded()
    }

    @Test func aTokenLimitedKeyReservesItsMaxTokensAndInput() async throws {
        let quota = StrictQuota(.atOnce(Self.admitted))
        let harness = try await Self.harness(quota, limits: ClientKeyLimits(tpm: 10_000))
        let body = #"{"model":"m","max_tokens":100}"#
        try Self.clientKeyRequest(harness, body: body)
        #expect(quota.admits.first?.reservedTokens == 100 + Int64(body.utf8.count / 4))
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        quota.verifyEnded()
    }

    @Test func refusedAtOnceAnswers429WithItsHeadersAndNothingGoesUpstream() async throws {
        let quota = StrictQuota(.atOnce(Self.refused))
        let harness = try await Self.harness(quota)
        try Self.clientKeyRequest(harness)
        let parts = try harness.clientParts()
        let answer = try Self.head(parts)
        #expect(answer.status == .tooManyRequests)
        #expect(answer.headers.first(name: "retry-after") == "12")
        #expect(answer.headers.first(name: "x-ratelimit-remaining-requests") == "0")
        let error = try #require(try RelayRobustnessTests.bodyObject(parts)["error"] as? [String: Any])
        #expect(error["message"] as? String == "client key 'team-a' reached its rpm limit of 60 requests; a request frees in 12 s")
        #expect(harness.upstreams.channels.isEmpty, "nothing went upstream")
        #expect(quota.settled.isEmpty && quota.released.isEmpty)
        quota.verifyEnded()
    }

    @Test func answeredLaterTheKeyWaitsForTheAdmission() async throws {
        let quota = StrictQuota(.later)
        let harness = try await Self.harness(quota)
        try Self.clientKeyRequest(harness)
        #expect(harness.upstreams.channels.isEmpty, "the key came at once, but the admission did not")
        quota.complete(Self.admitted)
        _ = try Self.upstreamHead(try harness.upstreamRequest())
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        #expect(try Self.head(try harness.clientParts()).status == .ok)
        #expect(quota.settled.count == 1)
        quota.verifyEnded()
    }

    /// The pool offered a key before the quota refused: the key is not used and its pick is given back to the coordinator.
    @Test func refusedLaterTheOfferedKeyIsNotUsedAndItsPickIsGivenBack() async throws {
        let quota = StrictQuota(.later)
        let coordinator = InMemoryKeyCoordinator()
        let harness = try await Self.harness(quota, coordinator: coordinator)
        try Self.clientKeyRequest(harness)
        quota.complete(Self.refused)
        #expect(try Self.head(try harness.clientParts()).status == .tooManyRequests)
        #expect(harness.upstreams.channels.isEmpty)
        quota.verifyEnded()
        let usage = await coordinator.drainUsage()
        #expect(!usage.isEmpty, "a key was picked for the request")
        #expect(usage.allSatisfy { $0.requests == 0 }, "the pick's request count taken back: \(usage)")
    }

    @Test func anAdmissionAfterTheClientLeftIsReleased() async throws {
        let quota = StrictQuota(.later)
        let harness = try await Self.harness(quota)
        try Self.clientKeyRequest(harness)
        harness.client.pipeline.fireChannelInactive()
        quota.complete(Self.admitted)
        #expect(harness.upstreams.channels.isEmpty)
        #expect(quota.released.count == 1 && quota.settled.isEmpty)
        quota.verifyEnded()
    }

    @Test func aStreamRenewsItsLeaseUntilItEnds() async throws {
        let quota = StrictQuota(.atOnce(Self.admitted))
        let harness = try await Self.harness(quota)
        try Self.clientKeyRequest(harness)
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Type", "text/event-stream")], body: ["data: {}\n\n"], end: false)
        let head = try Self.head(try harness.clientParts())
        #expect(head.headers.first(name: "x-ratelimit-limit-requests") == "60", "a stream's head carries them too")
        harness.loop.advanceTime(by: .seconds(4))
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "data: {}\n\n")))
        harness.loop.advanceTime(by: .seconds(4))
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "data: {}\n\n")))
        harness.loop.advanceTime(by: .seconds(4))
        #expect(quota.renewed.count == 1, "every 10 s")
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "data: {}\n\n")))
        harness.loop.advanceTime(by: .seconds(4))
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "data: {}\n\n")))
        harness.loop.advanceTime(by: .seconds(4))
        #expect(quota.renewed.count == 2)
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.end(nil))
        #expect(quota.settled.count == 1)
        harness.loop.advanceTime(by: .seconds(30))
        #expect(quota.renewed.count == 2, "no renewal after the end")
        quota.verifyEnded()
    }

    @Test func aModelNotOnTheListGets403BeforeTheQuotaIsAsked() async throws {
        let quota = StrictQuota(.atOnce(Self.admitted))
        let harness = try await Self.harness(quota, allowedModels: ["gpt-4o*"])
        try Self.clientKeyRequest(harness, body: #"{"model":"o3"}"#)
        let parts = try harness.clientParts()
        #expect(try Self.head(parts).status == .forbidden)
        let error = try #require(try RelayRobustnessTests.bodyObject(parts)["error"] as? [String: Any])
        #expect(error["message"] as? String == "client key 'team-a' may not use model 'o3' (its allowed_models: gpt-4o*)")
        #expect(quota.admits.isEmpty && harness.upstreams.channels.isEmpty)

        try Self.clientKeyRequest(harness, body: #"{"model":"gpt-4o-mini"}"#)
        _ = try Self.upstreamHead(try harness.upstreamRequest())
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        quota.verifyEnded()
    }

    @Test func aClientKeyInTheBodyIsAdmittedAndStripped() async throws {
        let quota = StrictQuota(.atOnce(Self.admitted))
        let harness = try await Self.harness(quota)
        try harness.request(headers: [("Content-Type", "application/json")], body: #"{"model":"m","api_key":"\#(Self.secret)"}"#)
        let upstream = try harness.upstreamRequest()
        var body = ByteBuffer()
        for case .body(.byteBuffer(var chunk)) in upstream { body.writeBuffer(&chunk) }
        #expect(!String(buffer: body).contains(Self.secret), "\(String(buffer: body))")
        #expect(quota.admits.count == 1)
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        quota.verifyEnded()
    }

    @Test func anOperatorKeyAsksTheQuotaNothing() async throws {
        let quota = StrictQuota(.atOnce(Self.admitted))
        let harness = try await Self.harness(quota)
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        let head = try Self.head(try harness.clientParts())
        #expect(head.status == .ok)
        #expect(head.headers.first(name: "x-ratelimit-limit-requests") == nil)
        #expect(quota.admits.isEmpty)
    }
}
