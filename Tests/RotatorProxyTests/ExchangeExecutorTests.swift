import Foundation
import KeyCoordination
import NIOCore
import NIOEmbedded
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Synchronization
import Testing

/// `ProxyExchange` performing its machine's steps on `EmbeddedChannel`, with the loop's virtual clock: the read
/// timeout it arms, and the final answer that waits for the failures it reported.
@Suite struct ExchangeExecutorTests {
    typealias Harness = ProxyFrontHandlerTests.Harness

    /// The in-memory coordinator, but its reports complete only when the test says so (as a report over Redis
    /// completes after its round trip).
    final class HeldReportsCoordinator: KeyCoordinator {
        let inner = InMemoryKeyCoordinator()
        private let held = Mutex<[(EventLoopPromise<OutcomeEffect>, @Sendable () -> OutcomeEffect)]>([])

        var heldCount: Int { held.withLock { $0.count } }

        /// Completes every report held so far.
        func completeReports() {
            let reports = held.withLock { reports in
                defer { reports = [] }
                return reports
            }
            for (promise, apply) in reports { promise.succeed(apply()) }
        }

        func report(_ outcome: KeyOutcome, key: Int64, pool: Int64, on eventLoop: any EventLoop) -> EventLoopFuture<OutcomeEffect> {
            let promise = eventLoop.makePromise(of: OutcomeEffect.self)
            let inner = self.inner
            held.withLock { $0.append((promise, { inner.reportNow(outcome, key: key, pool: pool) })) }
            return promise.futureResult
        }

        func reportImmediately(_ outcome: KeyOutcome, key: Int64, pool: Int64) -> OutcomeEffect? { nil }
        func acquireKeyImmediately(pool: Int64, excluding excluded: Set<Int64>, model: String?) -> KeyAcquisition? {
            inner.acquireKeyImmediately(pool: pool, excluding: excluded, model: model)
        }
        func syncPool(_ pool: PoolDefinition) async { await inner.syncPool(pool) }
        func removePool(id: Int64) async { await inner.removePool(id: id) }
        func acquireKey(pool: Int64, excluding excluded: Set<Int64>, model: String?) async -> KeyAcquisition {
            await inner.acquireKey(pool: pool, excluding: excluded, model: model)
        }
        func report(_ outcome: KeyOutcome, key: Int64, pool: Int64) async -> OutcomeEffect { await inner.report(outcome, key: key, pool: pool) }
        func unpick(key: Int64, pool: Int64) async { await inner.unpick(key: key, pool: pool) }
        func runtimeStates(pool: Int64) async -> [Int64: KeyRuntimeState] { await inner.runtimeStates(pool: pool) }
        func drainUsage() async -> [KeyUsageDelta] { await inner.drainUsage() }
        func recordTokens(key: Int64, input: Int64, output: Int64) { inner.recordTokens(key: key, input: input, output: output) }
        func coolPool(pool: Int64, seconds: Double, reason: String) async -> PoolCooling? { await inner.coolPool(pool: pool, seconds: seconds, reason: reason) }
        func poolCooling(pool: Int64) async -> PoolCooling? { await inner.poolCooling(pool: pool) }
    }

    /// The CI flake of `ClusterTests.perModelRestsAreSharedAndLeaveOtherModelsServed` (5 upstream 429s where 4 were
    /// due): the answer went out before the 429's report had set the key's rest, so the client's next request found
    /// the key free. The answer now waits for the failures reported; a success alone is never waited for.
    @Test func anAnswerAfterA429GoesOutOnlyOnceThe429sReportCompleted() async throws {
        let coordinator = HeldReportsCoordinator()
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(coordinator: coordinator))
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(.tooManyRequests, headers: [("Retry-After", "30"), ("Content-Length", "2")], body: ["{}"])
        #expect(harness.upstreams.channels.count == 2, "the next key is tried at once")
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        #expect(try harness.clientParts().isEmpty, "the answer waits for the 429's report")
        #expect(coordinator.heldCount >= 1)
        coordinator.completeReports()
        let parts = try harness.clientParts()
        #expect(RelayRobustnessTests.status(parts) == .ok, "\(parts)")
    }

    @Test func aCoordinatorThatDoesNotAnswerDelaysTheAnswerTwoSecondsAtMost() async throws {
        let coordinator = HeldReportsCoordinator()
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(coordinator: coordinator))
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(.tooManyRequests, headers: [("Retry-After", "30"), ("Content-Length", "2")], body: ["{}"])
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        harness.loop.advanceTime(by: .milliseconds(1900))
        #expect(try harness.clientParts().isEmpty)
        harness.loop.advanceTime(by: .milliseconds(100))
        #expect(RelayRobustnessTests.status(try harness.clientParts()) == .ok)
        coordinator.completeReports()
        #expect(try harness.clientParts().isEmpty, "answered once")
    }

    @Test func aSuccessAloneIsNotWaitedFor() async throws {
        let coordinator = HeldReportsCoordinator()
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(coordinator: coordinator))
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Length", "2")], body: ["{}"])
        #expect(RelayRobustnessTests.status(try harness.clientParts()) == .ok)
        coordinator.completeReports()
    }

    /// The read timeout is a timer the machine asks for on the loop's clock: `EmbeddedEventLoop.advanceTime` drives it.
    @Test func aWholeAnswerThatStallsTimesOutOnTheLoopsClock() async throws {
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService())
        try harness.request()
        _ = try harness.upstreamRequest()
        try harness.answer(headers: [("Content-Length", "100")], body: [#"{"partial":"#], end: false)
        harness.loop.advanceTime(by: .seconds(4))
        #expect(try harness.clientParts().isEmpty, "PROXY_TIMEOUT (5 s) runs from the upstream's last bytes")
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "1")))
        harness.loop.advanceTime(by: .seconds(4))
        #expect(try harness.clientParts().isEmpty, "bytes came 4 s ago: the timer fired early and was armed again")
        harness.loop.advanceTime(by: .seconds(1))
        let parts = try harness.clientParts()
        #expect(RelayRobustnessTests.status(parts) == .gatewayTimeout, "\(parts)")
        #expect((try RelayRobustnessTests.bodyObject(parts)["error"] as? [String: Any])?["code"] as? String == "upstream_timeout")
        #expect(harness.upstreams.channels.count == 1, "a POST that may have been processed is not sent again")
    }
}
