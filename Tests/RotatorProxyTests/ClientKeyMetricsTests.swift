import ClientAccess
import CoreMetrics
import Foundation
import NIOCore
import NIOHTTP1
@testable import RotatorProxy
import Synchronization
import Testing

/// A metrics backend that remembers every counter's total by its label and dimensions.
final class CapturingMetrics: MetricsFactory, Sendable {
    final class Handle: CounterHandler, Sendable {
        let total = Atomic<Int64>(0)
        func increment(by amount: Int64) { total.add(amount, ordering: .relaxed) }
        func reset() { total.store(0, ordering: .relaxed) }
    }

    private let counters = Mutex<[String: Handle]>([:])

    static func name(_ label: String, _ dimensions: [(String, String)]) -> String {
        label + "{" + dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    func value(_ label: String, _ dimensions: [(String, String)]) -> Int64? {
        counters.withLock { $0[Self.name(label, dimensions)] }?.total.load(ordering: .relaxed)
    }

    var names: [String] { counters.withLock { Array($0.keys) } }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        counters.withLock { counters in
            let name = Self.name(label, dimensions)
            if let existing = counters[name] { return existing }
            let made = Handle()
            counters[name] = made
            return made
        }
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        NOOPMetricsHandler.instance.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        NOOPMetricsHandler.instance.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        NOOPMetricsHandler.instance.makeTimer(label: label, dimensions: dimensions)
    }
    func destroyCounter(_ handler: any CounterHandler) {
        counters.withLock { counters in counters = counters.filter { $0.value !== (handler as? Handle) } }
    }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

/// Requests and tokens by client key name on `/metrics`, from the exchange.
@Suite struct ClientKeyMetricsTests {
    @Test func aClientKeysRequestAndTokensAreCountedUnderItsName() async throws {
        let capturing = CapturingMetrics()
        let base = try await ProxyFrontHandlerTests.makeService()
        let service = ProxyService(
            catalog: base.catalog, coordinator: base.coordinator, settings: base.settings, metrics: ProxyMetrics(factory: capturing),
            accessLog: base.accessLog, pools: base.pools, logger: base.logger)
        let harness = try ProxyFrontHandlerTests.Harness(service: service)
        try harness.request(end: false)
        try UsageLedgerExchangeTests.attribute(harness)
        try harness.client.writeInbound(HTTPServerRequestPart.end(nil))
        _ = try harness.upstreamRequest()
        let body = #"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4}}}"#
        try harness.answer(headers: [("Content-Length", String(body.utf8.count))], body: [body])
        _ = try harness.clientParts()

        #expect(capturing.value("rotator_client_key_requests_total", [("client_key", "team-a")]) == 1, "\(capturing.names)")
        #expect(capturing.value("rotator_client_key_tokens_total", [("client_key", "team-a"), ("kind", "input")]) == 12)
        #expect(capturing.value("rotator_client_key_tokens_total", [("client_key", "team-a"), ("kind", "output")]) == 5)
        #expect(capturing.value("rotator_client_key_tokens_total", [("client_key", "team-a"), ("kind", "cached")]) == 4)
        #expect(capturing.value("rotator_input_tokens_total", [("slug", "e")]) == 12, "every answer's tokens per config")
        #expect(capturing.value("rotator_converted_input_tokens_total", [("slug", "e")]) ?? 0 == 0, "not a converted answer")
    }
}
