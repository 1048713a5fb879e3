import FormatConversion
import RotatorCore
import Testing
@testable import UpstreamProviders

/// The proxy's own errors and a converted answer's errors come from one encoder: one config answers one client in one
/// shape, with the real providers' values.
@Suite struct ErrorShapeTests {
    private static let clients: [OutputFormat] = [.openAI, .openAIResponses, .anthropic, .gemini]
    private static let upstreams: [APIFormat] = [.openAICompatible, .anthropicNative, .geminiNative]

    /// The fields a client's SDK reads to tell errors apart: OpenAI's `error.type`, Anthropic's `error.type`,
    /// Google's `error.status`.
    private func kindField(_ bytes: [UInt8]) throws -> String? {
        let body = try JSONParser.parse(bytes)
        return body["error"]?["type"]?.string ?? body["error"]?["status"]?.string
    }

    /// The relay's refusal (no or a wrong proxy key) and the conversion stage's error of the same kind agree, for every
    /// converting pair.
    @Test func oneConvertingConfigAnswersOneClientInOneShape() throws {
        for client in Self.clients {
            for upstream in Self.upstreams {
                let pair = try #require(FormatPair(client: client, upstream: upstream))
                let relay = ClientErrorShape.bytes(kind: .authentication, status: 401, message: "no key", format: client.errorShapeFormat)
                let conversion = pair.clientErrorBody(UpstreamError(status: 401, kind: .authentication, message: "no key"))
                #expect(try kindField(relay) == kindField(conversion), "\(client) over \(upstream)")

                // The upstream went away: the relay's 502 and a converted stream cut off mid-answer. (A Responses
                // stream reports errors in its own `error` event, which names no type.)
                guard client != .openAIResponses else { continue }
                let down = ClientErrorShape.bytes(kind: .upstreamUnavailable, status: 502, message: "gone", format: client.errorShapeFormat)
                var stream = StreamConversion(pair: pair, options: ClientStreamOptions(created: 0))
                let cut = String(decoding: stream.finish(), as: UTF8.self)
                let downField = try #require(try kindField(down))
                #expect(cut.contains("\"\(downField)\""), "\(client) over \(upstream): relay says \(downField), the cut stream says \(cut)")
            }
        }
    }

    /// An upstream's own timeout or bad gateway, converted, reaches the client as the proxy's own would: a Gemini
    /// client sees `DEADLINE_EXCEEDED` and `UNAVAILABLE`, an Anthropic client `timeout_error`, whichever side timed out.
    @Test func anUpstreamsTimeoutLooksLikeTheProxysOwn() throws {
        let gemini = try #require(FormatPair(client: .gemini, upstream: .anthropicNative))
        let anthropicTimeout = #"{"type":"error","error":{"type":"timeout_error","message":"Request timed out"}}"#
        let converted = ResponseConversion(pair: gemini).convert(status: 504, body: Array(anthropicTimeout.utf8), created: 0)
        let own = ClientErrorShape.bytes(kind: .timeout, status: 504, message: "m", format: OutputFormat.gemini.errorShapeFormat)
        #expect(try kindField(converted.body) == "DEADLINE_EXCEEDED")
        #expect(try kindField(converted.body) == kindField(own))

        let badGateway = ResponseConversion(pair: gemini).convert(status: 502, body: Array("<html>bad gateway</html>".utf8), created: 0)
        let ownDown = ClientErrorShape.bytes(kind: .upstreamUnavailable, status: 502, message: "m", format: OutputFormat.gemini.errorShapeFormat)
        #expect(try kindField(badGateway.body) == kindField(ownDown))

        let anthropic = try #require(FormatPair(client: .anthropic, upstream: .geminiNative))
        let googleTimeout = #"{"error":{"code":504,"message":"Deadline expired","status":"DEADLINE_EXCEEDED"}}"#
        let toAnthropic = ResponseConversion(pair: anthropic).convert(status: 504, body: Array(googleTimeout.utf8), created: 0)
        #expect(try kindField(toAnthropic.body) == "timeout_error")
    }

    /// OpenAI answers a refused key with `invalid_request_error` and code `invalid_api_key` (not
    /// `authentication_error`, which its SDKs never see); Google says `UNAVAILABLE` when the service is down and
    /// `DEADLINE_EXCEEDED` for a timeout; Anthropic `timeout_error` for a 504.
    @Test func theRealProvidersValues() throws {
        let openAI = try JSONParser.parse(ClientErrorShape.bytes(kind: .authentication, status: 401, message: "m", format: .openAICompatible))
        #expect(openAI["error"]?["type"]?.string == "invalid_request_error")
        #expect(openAI["error"]?["code"]?.string == "invalid_api_key")
        let openAIDown = try JSONParser.parse(ClientErrorShape.bytes(kind: .upstreamUnavailable, status: 502, message: "m", format: .openAICompatible))
        #expect(openAIDown["error"]?["type"]?.string == "server_error")
        #expect(openAIDown["error"]?["code"]?.string == "upstream_unavailable")

        let gemini = try JSONParser.parse(ClientErrorShape.bytes(kind: .upstreamUnavailable, status: 502, message: "m", format: .geminiNative))
        #expect(gemini["error"]?["status"]?.string == "UNAVAILABLE")
        #expect(gemini["error"]?["code"]?.int == 502)
        let geminiTimeout = try JSONParser.parse(ClientErrorShape.bytes(kind: .timeout, status: 504, message: "m", format: .geminiNative))
        #expect(geminiTimeout["error"]?["status"]?.string == "DEADLINE_EXCEEDED")

        let anthropicTimeout = try JSONParser.parse(ClientErrorShape.bytes(kind: .timeout, status: 504, message: "m", format: .anthropicNative))
        #expect(anthropicTimeout["type"]?.string == "error")
        #expect(anthropicTimeout["error"]?["type"]?.string == "timeout_error")
        // The client's own slowness (408) is its request's fault in every shape.
        let slowClient = try JSONParser.parse(ClientErrorShape.bytes(kind: .requestTimeout, status: 408, message: "m", format: .anthropicNative))
        #expect(slowClient["error"]?["type"]?.string == "invalid_request_error")
        let slowOpenAI = try JSONParser.parse(ClientErrorShape.bytes(kind: .requestTimeout, status: 408, message: "m", format: .openAICompatible))
        #expect(slowOpenAI["error"]?["code"]?.string == "request_timeout")

        let generic = try JSONParser.parse(ClientErrorShape.bytes(kind: .notFound, status: 404, message: "nothing here", format: nil))
        #expect(generic["error"]?.string == "nothing here")
    }

    /// A Gemini client told to wait by the proxy's own 429 finds the wait where its SDK looks: `RetryInfo`.
    @Test func geminiWaitsInRetryInfo() throws {
        let body = try JSONParser.parse(ClientErrorShape.bytes(kind: .rateLimited, status: 429, message: "busy", format: .geminiNative, retryAfter: 7))
        #expect(body["error"]?["details"]?.array?.first?["retryDelay"]?.string == "7s")
        #expect(GeminiRetryInfo.delay(inError: body["error"]) == 7)
    }
}
