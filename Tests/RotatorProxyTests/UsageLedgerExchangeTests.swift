import ClientAccess
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Testing

/// The exchange's side of the usage ledger: every finished request adds its row, attributed to its client key, with
/// the tokens the tap read (a stream the client left counts what its events reported).
@Suite struct UsageLedgerExchangeTests {
    typealias Harness = ProxyFrontHandlerTests.Harness

    static let teamKey = ClientKey(id: 7, name: "team-a", secretHash: ClientKeyHasher(encryptionKey: "k").hash("rk-team"), secretHint: "rk-…team")

    /// Admission sets the exchange's client key; here it is set by hand once the head is in.
    static func attribute(_ harness: Harness) throws {
        let handler = try harness.client.pipeline.syncOperations.handler(type: ProxyFrontHandler.self)
        handler.exchange?.clientKey = teamKey
    }

    @Test func aWholeAnswerCountsOnceForItsClientKey() async throws {
        let service = try await ProxyFrontHandlerTests.makeService()
        let harness = try Harness(service: service)
        try harness.request(end: false)
        try Self.attribute(harness)
        try harness.client.writeInbound(HTTPServerRequestPart.end(nil))
        _ = try harness.upstreamRequest()
        let body = #"{"id":"c","object":"chat.completion","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":4}}}"#
        try harness.answer(headers: [("Content-Type", "application/json"), ("Content-Length", String(body.utf8.count))], body: [body])
        #expect(RelayRobustnessTests.status(try harness.clientParts()) == .ok)

        let rows = service.usageLedger.drain()
        #expect(rows.count == 1)
        let (key, counts) = try #require(rows.first)
        #expect(key.clientKeyID == 7 && key.configID == 1 && key.model == "m" && key.keyID != nil)
        #expect(counts.requests == 1 && counts.attempts == 1 && counts.totalErrors == 0)
        #expect(counts.inputTokens == 12 && counts.outputTokens == 5 && counts.cachedTokens == 4)
    }

    @Test func aStreamTheClientLeftCountsWhatItsEventsReported() async throws {
        let service = try await ProxyFrontHandlerTests.makeService()
        let harness = try Harness(service: service)
        try harness.request()
        _ = try harness.upstreamRequest()
        // OpenAI sends the usage chunk last; an upstream that reports it early (as the mock may) is read the same way.
        try harness.answer(headers: [("Content-Type", "text/event-stream")], body: [
            #"data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"#,
            #""completion_tokens":3,"total_tokens":12}}"# + "\n\n",
            #"data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}"# + "\n\n",
        ], end: false)
        _ = try harness.clientParts()
        harness.client.pipeline.fireChannelInactive()

        let rows = service.usageLedger.drain()
        let (key, counts) = try #require(rows.first)
        #expect(key.clientKeyID == nil, "an operator key's request")
        #expect(counts.requests == 1 && counts.inputTokens == 9 && counts.outputTokens == 3)
    }

    @Test func aRefusalCountsAsAnErrorOfItsClass() async throws {
        let service = try await ProxyFrontHandlerTests.makeService()
        let harness = try Harness(service: service)
        try harness.request(headers: [("Authorization", "Bearer wrong")])
        #expect(RelayRobustnessTests.status(try harness.clientParts()) == .unauthorized)
        let (key, counts) = try #require(service.usageLedger.drain().first)
        #expect(key.keyID == nil && key.model == nil, "no key was reached, no model read")
        #expect(counts.requests == 1 && counts.errors(.refused) == 1 && counts.attempts == 0)
    }
}
