import FormatConversion
import RotatorCore
import Testing

@Suite struct ErrorAndModelConversionTests {
    @Test func anAnthropicRateLimitReachesAnOpenAIClientWithStatusAndRetryAfter() throws {
        let pair = try #require(FormatPair(client: .openAI, upstream: .anthropicNative))
        let body = #"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#
        let answer = ResponseConversion(pair: pair).convert(status: 429, body: Array(body.utf8), retryAfter: "17", created: 0)
        #expect(answer.status == 429)
        #expect(answer.retryAfter == "17")
        let error = try JSONParser.parse(answer.body)["error"]
        #expect(error?["type"]?.string == "rate_limit_error")
        #expect(error?["code"]?.string == "rate_limit_exceeded")
        #expect(error?["message"]?.string == "Number of request tokens has exceeded your per-minute rate limit")
    }

    @Test func geminisRetryInfoBecomesRetryAfterForAnAnthropicClient() throws {
        let pair = try #require(FormatPair(client: .anthropic, upstream: .geminiNative))
        let body = #"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"29.5s"}]}}"#
        let answer = ResponseConversion(pair: pair).convert(status: 429, body: Array(body.utf8), created: 0)
        #expect(answer.status == 429)
        #expect(answer.retryAfter == "30")
        let error = try JSONParser.parse(answer.body)
        #expect(error["type"]?.string == "error")
        #expect(error["error"]?["type"]?.string == "rate_limit_error")
    }

    @Test func anOpenAIKeyErrorReachesAGeminiClientAsUnauthenticated() throws {
        let pair = try #require(FormatPair(client: .gemini, upstream: .openAICompatible))
        let body = #"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#
        let answer = ResponseConversion(pair: pair).convert(status: 401, body: Array(body.utf8), created: 0)
        #expect(answer.status == 401)
        let error = try JSONParser.parse(answer.body)["error"]
        #expect(error?["code"]?.int == 401)
        #expect(error?["status"]?.string == "UNAUTHENTICATED")
        #expect(error?["message"]?.string == "Incorrect API key provided")
    }

    @Test func aNonJSONErrorKeepsItsStatus() throws {
        let pair = try #require(FormatPair(client: .openAIResponses, upstream: .anthropicNative))
        let answer = ResponseConversion(pair: pair).convert(status: 503, body: Array("<html>busy</html>".utf8), created: 0)
        #expect(answer.status == 503)
        #expect(try JSONParser.parse(answer.body)["error"]?["type"]?.string == "server_error")
    }

    @Test func modelListsAreConvertedWithTheMappedNamesAdded() throws {
        let pair = try #require(FormatPair(client: .openAI, upstream: .geminiNative))
        let body = #"{"models":[{"name":"models/gemini-2.5-flash","displayName":"Gemini 2.5 Flash","supportedGenerationMethods":["generateContent"]}]}"#
        let answer = ResponseConversion(pair: pair).convertModels(
            status: 200, body: Array(body.utf8), models: ModelMapping(map: ["gpt-4o": "gemini-2.5-flash"]))
        let list = try JSONParser.parse(answer.body)
        #expect(list["object"]?.string == "list")
        #expect(list["data"]?.array?.compactMap { $0["id"]?.string } == ["gemini-2.5-flash", "gpt-4o"])
        #expect(pair.upstreamModelsPath == "/v1beta/models")

        let anthropic = try #require(FormatPair(client: .anthropic, upstream: .openAICompatible))
        let openAIList = #"{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1715367049,"owned_by":"system"}]}"#
        let converted = try JSONParser.parse(ResponseConversion(pair: anthropic).convertModels(status: 200, body: Array(openAIList.utf8)).body)
        #expect(converted["data"]?.array?.first?["type"]?.string == "model")
        #expect(converted["data"]?.array?.first?["created_at"]?.string == "2024-05-10T18:50:49Z")
        #expect(converted["first_id"]?.string == "gpt-4o")

        let gemini = try #require(FormatPair(client: .gemini, upstream: .anthropicNative))
        let anthropicList = #"{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"}],"has_more":false}"#
        let geminiList = try JSONParser.parse(ResponseConversion(pair: gemini).convertModels(status: 200, body: Array(anthropicList.utf8)).body)
        #expect(geminiList["models"]?.array?.first?["name"]?.string == "models/claude-sonnet-4-5")
        #expect(geminiList["models"]?.array?.first?["displayName"]?.string == "Claude Sonnet 4.5")
    }

    @Test func theModelMapAndDefaultModelPickTheUpstreamsModel() throws {
        let pair = try #require(FormatPair(client: .openAI, upstream: .anthropicNative))
        let mapping = ModelMapping(map: ["gpt-4o": "claude-sonnet-4-5"], defaultModel: "claude-haiku-4-5")
        func sentModel(_ model: String) throws -> String? {
            let body = Array(#"{"model":"\#(model)","messages":[{"role":"user","content":"hi"}]}"#.utf8)
            guard case .forward(let converted) = RequestConversion(pair: pair, models: mapping).convert(body, call: ChatCall(), created: 0) else {
                return nil
            }
            #expect(converted.clientModel == model)
            return try JSONParser.parse(converted.upstream.body)["model"]?.string
        }
        #expect(try sentModel("gpt-4o") == "claude-sonnet-4-5")
        #expect(try sentModel("gpt-4o-mini") == "claude-haiku-4-5")
        #expect(ModelMapping(map: ["a": "b"]).upstreamModel(for: "c") == "c")
        #expect(ModelMapping.identity.upstreamModel(for: nil) == nil)
    }

    @Test func aStreamedRequestAsksTheUpstreamToStream() throws {
        let body = Array(#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#.utf8)
        let expectedPaths: [APIFormat: String] = [
            .openAICompatible: "/v1/chat/completions", .anthropicNative: "/v1/messages",
            .geminiNative: "/v1beta/models/m:streamGenerateContent?alt=sse",
        ]
        for upstream in Golden.upstreamFormats {
            let pair = try #require(FormatPair(client: .openAI, upstream: upstream))
            guard case .forward(let converted) = RequestConversion(pair: pair).convert(body, call: ChatCall(), created: 5) else {
                Issue.record("rejected")
                continue
            }
            #expect(converted.upstream.streams)
            #expect(converted.upstream.path == expectedPaths[upstream])
            #expect(converted.streamOptions == ClientStreamOptions(includeUsage: true, serverSentEvents: true, created: 5))
            let sent = try JSONParser.parse(converted.upstream.body)
            switch upstream {
            case .openAICompatible: #expect(sent["stream_options"]?["include_usage"]?.bool == true)
            case .anthropicNative:
                #expect(sent["stream"]?.bool == true)
                #expect(converted.upstream.headers["anthropic-version"] == "2023-06-01")
            case .geminiNative: #expect(sent["stream"] == nil)
            }
        }
    }

    @Test func upstreamPathsJoinTheConfigsBasePath() {
        #expect(UpstreamRequest.join(baseSegments: [], path: "/v1/messages") == "/v1/messages")
        #expect(UpstreamRequest.join(baseSegments: ["api", "v1"], path: "/v1/chat/completions") == "/api/v1/chat/completions")
        #expect(UpstreamRequest.join(baseSegments: ["v1beta"], path: "/v1beta/models/m:generateContent") == "/v1beta/models/m:generateContent")
        #expect(UpstreamRequest.join(baseSegments: ["openai"], path: "/v1/models") == "/openai/v1/models")
        // A Gemini base pinned to `/v1`: the converter's `/v1beta` paths take the base's version, not a segment below it.
        #expect(UpstreamRequest.join(baseSegments: ["v1"], path: "/v1beta/models/m:generateContent") == "/v1/models/m:generateContent")
        #expect(UpstreamRequest.join(baseSegments: ["api", "paas", "v4"], path: "/v1/chat/completions") == "/api/paas/v4/chat/completions")
    }

    @Test func theRotatorsOwnErrorsComeInTheClientsShape() throws {
        let pair = try #require(FormatPair(client: .anthropic, upstream: .openAICompatible))
        let body = try JSONParser.parse(pair.clientErrorBody(UpstreamError(status: 429, message: "Every key is cooling down.", retryAfterSeconds: 3)))
        #expect(body["error"]?["type"]?.string == "rate_limit_error")
        let gemini = try #require(FormatPair(client: .gemini, upstream: .openAICompatible))
        let geminiBody = try JSONParser.parse(gemini.clientErrorBody(UpstreamError(status: 429, message: "cooling", retryAfterSeconds: 3)))
        #expect(geminiBody["error"]?["details"]?.array?.first?["retryDelay"]?.string == "3s")
    }
}

extension ErrorAndModelConversionTests {
    @Test func aGeminiClientWithoutAltSSEGetsOneJSONArray() throws {
        let pair = try #require(FormatPair(client: .gemini, upstream: .anthropicNative))
        var stream = StreamConversion(pair: pair, options: ClientStreamOptions(serverSentEvents: false))
        #expect(stream.contentType == "application/json")
        let input = try Golden.bytes("streams/anthropic_native.upstream.sse")
        let output = stream.feed(input) + stream.finish()
        let array = try #require(try JSONParser.parse(output).array)
        #expect(array.count == 5, "two text chunks, two function calls, the finish")
        #expect(array.last?["candidates"]?.array?.first?["finishReason"]?.string == "STOP")
        #expect(StreamConversion(pair: pair, options: ClientStreamOptions()).contentType == "text/event-stream")
    }
}
