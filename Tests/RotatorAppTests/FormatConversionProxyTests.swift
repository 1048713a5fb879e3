import Foundation
import MockUpstream
import NIOHTTP1
import Testing

/// One client SDK against a config whose upstream speaks another format.
struct ConversionCase: Sendable, CustomTestStringConvertible {
    var script: PythonSDKScript
    var outputFormat: String
    var apiFormat: String
    /// `sdk_openai.py`: the APIs to call (a config serves Chat Completions or Responses).
    var apis: String?

    var testDescription: String { "\(script.rawValue)\(apis.map { " (\($0))" } ?? "") as \(outputFormat) over \(apiFormat)" }

    /// The config's target base URL under the mock: with the version segment the upstream's paths start with, so
    /// the join under the base path is exercised too (and google-genai's default `/v1` on a `/v1beta` target).
    func upstreamBase(_ mock: String) -> String {
        apiFormat == "gemini_native" ? mock + "/v1beta" : mock + "/v1"
    }

    func clientBase(_ node: String, slug: String) -> String {
        script == .openAI ? node + "/llm/\(slug)/v1" : node + "/llm/\(slug)"
    }

    /// The model the script names, and what follows it: the APIs (`sdk_openai.py`) and JSON mode without a schema,
    /// which only upstreams with a schema-free JSON mode give (Anthropic's structured output needs a schema).
    var arguments: (model: String, extra: [String]) {
        let jsonMode = apiFormat == "anthropic_native" ? "" : "json_mode"
        switch script {
        case .openAI: return ("gpt-4o", [[apis ?? "chat", jsonMode].filter { !$0.isEmpty }.joined(separator: ",")])
        case .anthropic: return ("claude-sonnet-4-5", [])
        case .gemini: return ("gemini-2.5-flash", [jsonMode])
        }
    }

    static let all: [ConversionCase] = [
        ConversionCase(script: .openAI, outputFormat: "openai", apiFormat: "anthropic_native", apis: "chat"),
        ConversionCase(script: .openAI, outputFormat: "openai_responses", apiFormat: "anthropic_native", apis: "responses"),
        ConversionCase(script: .openAI, outputFormat: "openai", apiFormat: "gemini_native", apis: "chat"),
        ConversionCase(script: .openAI, outputFormat: "openai_responses", apiFormat: "gemini_native", apis: "responses"),
        ConversionCase(script: .openAI, outputFormat: "openai_responses", apiFormat: "openai_compatible", apis: "responses"),
        ConversionCase(script: .anthropic, outputFormat: "anthropic", apiFormat: "openai_compatible"),
        ConversionCase(script: .anthropic, outputFormat: "anthropic", apiFormat: "gemini_native"),
        ConversionCase(script: .gemini, outputFormat: "gemini", apiFormat: "openai_compatible"),
        ConversionCase(script: .gemini, outputFormat: "gemini", apiFormat: "anthropic_native"),
        // Pass-through: google-genai's `/v1` paths under a target that ends in `/v1beta`.
        ConversionCase(script: .gemini, outputFormat: "none", apiFormat: "gemini_native"),
    ]
}

/// Format conversion wired into the proxy path, end to end: a real node, the strict mock upstream (it answers only
/// its own dialect, paths and credential header, so nothing passes by a pass-through), the official SDKs.
@Suite(.serialized) struct FormatConversionProxyTests {
    @Test(PythonSDKScript.enabledWhenConfigured, arguments: ConversionCase.all)
    func officialSDKThroughConversion(_ conversion: ConversionCase) async throws {
        let python = try PythonSDKScript.interpreter()
        let (node, keys) = try await TestNode.converting(slug: "conv", apiFormat: conversion.apiFormat, outputFormat: conversion.outputFormat, keys: 2,
                                                         base: { conversion.upstreamBase($0.mock.baseURL) })
        try await node.whileRunning { node in
            let run = try await conversion.script.run(
                python: python, baseURL: conversion.clientBase(node.baseURL, slug: "conv"), key: TestNode.proxyKey, model: conversion.arguments.model,
                extra: conversion.arguments.extra)
            print("\(conversion.testDescription):\n\(run.output)")
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("checks passed"))
            let served = keys.map { node.mockState.counters(forKey: $0).success }.reduce(0, +)
            #expect(served >= 4, "the upstream answered in its own dialect: \(node.mockState.counters())")
            #expect(node.mockState.counters()[MockUpstreamState.missingKeyLabel] == nil, "every request carried the real key where the upstream wants it")
        }
    }

    @Test func rateLimitedKeyRotatesThroughAConversion() async throws {
        let (node, keys) = try await TestNode.converting(slug: "rot", apiFormat: "anthropic_native", outputFormat: "openai", keys: 2)
        try await node.whileRunning { node in
            node.mockState.setProfile(KeyProfile(forceRateLimitRetryAfter: 30), forKey: keys[0])
            // Until the limited key has been tried once: every request is still served, by the other key.
            var replies: [TestNode.Reply] = []
            while node.mockState.counters(forKey: keys[0]).rateLimited == 0, replies.count < 6 {
                replies.append(try await node.proxy("rot", body: #"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#))
            }
            #expect(node.mockState.counters(forKey: keys[0]).rateLimited == 1)
            #expect(node.mockState.counters(forKey: keys[1]).success == replies.count)
            for reply in replies {
                #expect(reply.status == 200, "\(reply.text)")
                let object = try reply.object()
                #expect(object["object"] as? String == "chat.completion", "an OpenAI answer from an Anthropic upstream: \(reply.text)")
            }
            // A streamed answer through the conversion too; the tokens converted answers reported are counted for the config.
            let before = try await node.convertedTokens(slug: "rot")
            #expect(before.input > 0 && before.output > 0, "whole answers counted")
            let streamed = try await node.proxy("rot", body: #"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(streamed.status == 200)
            #expect(streamed.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
            #expect(streamed.text.contains("chat.completion.chunk") && streamed.text.hasSuffix("data: [DONE]\n\n"), "\(streamed.text)")
            let after = try await node.convertedTokens(slug: "rot")
            #expect(after.output > before.output, "streams counted too")
        }
    }

    @Test func tokensAreCountedForTheKeyThatServed() async throws {
        let (node, keys) = try await TestNode.converting(slug: "tok", apiFormat: "anthropic_native", outputFormat: "openai", keys: 2)
        try await node.whileRunning { node in
            for stream in [false, true, false, true, false] {
                let reply = try await node.proxy("tok", body: #"{"model":"gpt-4o","stream":\#(stream),"messages":[{"role":"user","content":"hi"}]}"#)
                #expect(reply.status == 200, "\(reply.text)")
            }
            let configID = try #require(try await node.admin(.GET, "/admin/proxy-configs").array().first { $0["slug"] as? String == "tok" }?["id"] as? Int)
            let views = try await node.keys(configID: configID)
            #expect(views.count == 2)
            // The mock reports one input token per answer, whole or streamed: each key's count is the answers it served.
            for (key, view) in zip(keys, views) {
                #expect(view["input_tokens"] as? Int == node.mockState.counters(forKey: key).success, "\(view)")
            }
            let totals = try await node.convertedTokens(slug: "tok")
            #expect(totals.input == 5)
            #expect(views.compactMap { $0["output_tokens"] as? Int }.reduce(0, +) == totals.output, "streams' tokens reach the keys too")
        }
    }

    @Test func upstreamErrorsAndOwnErrorsComeInTheClientsShape() async throws {
        let (node, keys) = try await TestNode.converting(slug: "errs", apiFormat: "openai_compatible", outputFormat: "anthropic", keys: 1)
        try await node.whileRunning { node in
            let anthropicClient = [("x-api-key", TestNode.proxyKey), ("anthropic-version", "2023-06-01")]
            let message = #"{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#

            // Served, converted to a Message.
            let served = try await node.proxy("errs", "/v1/messages", body: message, headers: anthropicClient)
            #expect(served.status == 200, "\(served.text)")
            #expect(try served.object()["type"] as? String == "message", "\(served.text)")

            // The Anthropic client's credential header, not the upstream's: a wrong one is refused in Anthropic's shape.
            let wrongKey = try await node.proxy("errs", "/v1/messages", body: message, headers: [("x-api-key", "wrong")])
            #expect(wrongKey.status == 401)
            #expect(try wrongKey.object()["type"] as? String == "error", "\(wrongKey.text)")

            // A path the client format does not serve: a 404 naming the paths that do.
            let elsewhere = try await node.proxy("errs", "/v1/chat/completions", headers: anthropicClient)
            #expect(elsewhere.status == 404)
            #expect(elsewhere.text.contains("/v1/messages"), "\(elsewhere.text)")
            #expect(try elsewhere.object()["type"] as? String == "error", "\(elsewhere.text)")

            // Malformed JSON: a 400 in the client's shape, no upstream call.
            let before = node.mockState.totalCounters().requests
            let malformed = try await node.proxy("errs", "/v1/messages", body: "{not json", headers: anthropicClient)
            #expect(malformed.status == 400)
            #expect(try malformed.object()["type"] as? String == "error", "\(malformed.text)")
            #expect(node.mockState.totalCounters().requests == before)

            // The only key rate limited: the client gets a 429 in its shape with a Retry-After.
            node.mockState.setProfile(KeyProfile(forceRateLimitRetryAfter: 30), forKey: keys[0])
            let limited = try await node.proxy("errs", "/v1/messages", body: message, headers: anthropicClient)
            #expect(limited.status == 429, "\(limited.text)")
            #expect(limited.headers.first(name: "retry-after") != nil)
            let error = try limited.object()
            #expect(error["type"] as? String == "error", "\(limited.text)")
            #expect((error["error"] as? [String: Any])?["type"] as? String == "rate_limit_error", "\(limited.text)")
        }
    }

    @Test func upstreamErrorIsConvertedWithItsStatus() async throws {
        let (node, keys) = try await TestNode.converting(slug: "fail", apiFormat: "gemini_native", outputFormat: "openai", keys: 1,
                                                         base: { $0.mock.baseURL + "/v1beta" }, environment: ["MAX_RETRIES": "0"])
        try await node.whileRunning { node in
            node.mockState.setProfile(KeyProfile(failureStatus: 503), forKey: keys[0])
            let reply = try await node.proxy("fail", body: #"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(reply.status == 503, "\(reply.text)")
            let error = try #require(try reply.object()["error"] as? [String: Any], "\(reply.text)")
            #expect(error["message"] is String, "an OpenAI error object from a Gemini error: \(reply.text)")
            #expect(error["status"] == nil, "not Gemini's shape: \(reply.text)")
        }
    }
}

extension TestNode {
    /// A node with one converting config (`output_format` over `api_format`) and its keys.
    static func converting(
        slug: String, apiFormat: String, outputFormat: String, keys count: Int, base: ((TestNode) -> String)? = nil,
        environment: [String: String] = [:]
    ) async throws -> (TestNode, [String]) {
        let node = try await TestNode.start(environment: environment)
        let id = try await node.createConfig(slug: slug, format: apiFormat, base: base?(node), extra: #","output_format":"\#(outputFormat)""#)
        let keys = sampleKeys(count, prefix: "sk-\(slug)")
        try await node.addKeys(configID: id, keys)
        return (node, keys)
    }

    /// The config's `rotator_converted_{input,output}_tokens_total` on `/metrics`.
    func convertedTokens(slug: String) async throws -> (input: Int, output: Int) {
        let lines = try await send(.GET, "/metrics").text.split(separator: "\n")
        func value(_ name: String) -> Int {
            lines.first { $0.hasPrefix("\(name){slug=\"\(slug)\"}") }?.split(separator: " ").last.flatMap { Int($0) } ?? 0
        }
        return (value("rotator_converted_input_tokens_total"), value("rotator_converted_output_tokens_total"))
    }
}
