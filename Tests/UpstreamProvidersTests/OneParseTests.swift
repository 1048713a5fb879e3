import FormatConversion
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import UpstreamProviders

/// The error body is parsed once per answer: the verdict carries the reset hint and the provider's message, and the
/// one reader of Google's `RetryInfo` is strict wherever it is read.
@Suite struct OneParseTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    private static let gemini429 = #"""
        {"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED","details":[
        {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaValue":"15"}]},
        {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"31s"}]}}
        """#

    @Test func theVerdictCarriesWhatMetricsAndThePageNeed() {
        let answer = UpstreamAnswerClassifier(dialect: .gemini)
            .classify(status: 429, headers: [:], body: ByteBuffer(string: Self.gemini429), now: now)
        #expect(answer.blame == .rateLimited(retryAfter: 31))
        #expect(answer.hasResetHint)
        #expect(answer.isPerModel)
        #expect(answer.providerMessage == "You exceeded your current quota.")

        let bare = UpstreamAnswerClassifier(dialect: .openAI).classify(status: 429, headers: [:], body: ByteBuffer(string: "busy"), now: now)
        #expect(!bare.hasResetHint)
        #expect(bare.providerMessage == nil)
    }

    @Test func providerErrorReadsEverythingInOnePass() throws {
        let error = try #require(ProviderError(body: ByteBuffer(string: Self.gemini429)))
        #expect(error.status == "RESOURCE_EXHAUSTED")
        #expect(error.quotaIDs == ["GenerateRequestsPerMinutePerProjectPerModel-FreeTier"])
        #expect(error.retryDelay == 31)
        #expect(error.displayMessage == "You exceeded your current quota.")
        #expect(error.message == "you exceeded your current quota.")
        // Google sometimes wraps its error in an array.
        #expect(ProviderError(body: ByteBuffer(string: "[" + Self.gemini429 + "]"))?.retryDelay == 31)
    }

    /// The conversion stage read `RetryInfo` loosely (`Double(delay.dropLast())`): a negative, NaN or huge delay became
    /// the client's `Retry-After`. It now reads it as the relay does.
    @Test func retryInfoIsReadStrictlyByTheConversionToo() throws {
        for delay in ["-3s", "nans", "1e9s", "100000s", "0x10s", "inf s"] {
            let body = #"{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"\#(delay)"}]}}"#
            let decoded = GeminiFormat.decodeError(status: 429, body: try JSONParser.parse(body), retryAfterSeconds: nil)
            #expect(decoded.retryAfterSeconds == nil, "\(delay)")
            #expect(ProviderError(body: ByteBuffer(string: body))?.retryDelay == nil, "\(delay)")
        }
        let body = #"{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"29.5s"}]}}"#
        #expect(GeminiFormat.decodeError(status: 429, body: try JSONParser.parse(body), retryAfterSeconds: nil).retryAfterSeconds == 30)
    }
}

@Suite struct UpstreamAnswerRedactionTests {
    /// A verdict in a log line or a failed expectation never shows the provider's message, which may echo the key.
    @Test func theProvidersMessageIsNotPrinted() {
        let echoed = "Incorrect API key provided: sk-live-0123456789abcdef"
        let answer = UpstreamAnswer(status: 401, blame: .keyInvalid, signature: "401|invalid_request_error|invalid_api_key", reason: "openai invalid_api_key",
                                    providerMessage: echoed)
        var dumped = ""
        dump(answer, to: &dumped)
        for text in ["\(answer)", String(reflecting: answer), dumped, "\([answer])"] {
            #expect(!text.contains("sk-live"), "\(text)")
            #expect(text.contains("openai invalid_api_key"))
        }
    }
}
