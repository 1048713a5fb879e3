import NIOCore
import NIOEmbedded
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Testing

/// A converted stream on the embedded relay: an OpenAI client over an Anthropic upstream. Each upstream event goes
/// out converted as soon as it is complete, with the same back-pressure as a pass-through stream.
@Suite struct ConvertedStreamTests {
    typealias Harness = ProxyFrontHandlerTests.Harness

    static func event(_ name: String, _ data: String) -> String { "event: \(name)\ndata: \(data)\n\n" }

    static func bodies(_ parts: [HTTPServerResponsePart]) -> String {
        parts.compactMap { part -> String? in
            if case .body(.byteBuffer(let buffer)) = part { return String(buffer: buffer) }
            return nil
        }.joined()
    }

    @Test func eachUpstreamEventGoesOutConvertedAsSoonAsItIsComplete() async throws {
        let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(apiFormat: .anthropicNative, outputFormat: "openai"))
        try harness.request(body: #"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
        let sent = try harness.upstreamRequest()
        guard case .head(let upstreamHead) = sent.first else {
            Issue.record("nothing sent upstream")
            return
        }
        #expect(upstreamHead.uri == "/v1/messages")
        #expect(upstreamHead.headers.first(name: "x-api-key")?.hasPrefix("sk-upstream-") == true)
        #expect(upstreamHead.headers.first(name: "authorization") == nil, "the client's credential never goes up")
        #expect(upstreamHead.headers.first(name: "anthropic-version") != nil)
        let upstreamBody = sent.compactMap { part -> String? in
            if case .body(.byteBuffer(let buffer)) = part { return String(buffer: buffer) }
            return nil
        }.joined()
        #expect(upstreamBody.contains(#""max_tokens""#) && upstreamBody.contains(#""stream":true"#), "an Anthropic body: \(upstreamBody)")

        let start = Self.event("message_start", #"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"usage":{"input_tokens":3,"output_tokens":0}}}"#)
            + Self.event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#)
        let delta = Self.event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#)
        let split = delta.index(delta.startIndex, offsetBy: 30)
        try harness.answer(headers: [("Content-Type", "text/event-stream"), ("Content-Length", "9999")], body: [start + delta[..<split]], end: false)
        var parts = try harness.clientParts()
        guard case .head(let head) = parts.first else {
            Issue.record("no head: \(parts)")
            return
        }
        #expect(head.headers.first(name: "content-type") == "text/event-stream")
        #expect(head.headers.first(name: "content-length") == nil, "the converted stream's length is not the upstream's")
        #expect(Self.bodies(parts).contains("chat.completion.chunk"))
        #expect(!Self.bodies(parts).contains("Hello"), "half an event is held until it is complete")

        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: String(delta[split...]))))
        parts = try harness.clientParts()
        #expect(Self.bodies(parts).contains(#""content":"Hello""#), "\(Self.bodies(parts))")

        harness.client.isWritable = false
        harness.client.pipeline.fireChannelWritabilityChanged()
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: Self.event("content_block_stop", #"{"type":"content_block_stop","index":0}"#))))
        let readsBefore = harness.upstreams.reads
        harness.upstreams.last.read()
        #expect(harness.upstreams.reads == readsBefore, "no read upstream while the client cannot take more")
        harness.client.isWritable = true
        harness.client.pipeline.fireChannelWritabilityChanged()
        #expect(harness.upstreams.reads == readsBefore + 1)

        let ending = Self.event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}"#)
            + Self.event("message_stop", #"{"type":"message_stop"}"#)
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: ending)))
        try harness.upstreams.last.writeInbound(HTTPClientResponsePart.end(nil))
        parts = try harness.clientParts()
        let text = Self.bodies(parts)
        #expect(text.contains(#""finish_reason":"stop""#) && text.hasSuffix("data: [DONE]\n\n"), "\(text)")
        guard case .end = parts.last else {
            Issue.record("the client's answer did not end: \(parts)")
            return
        }
        #expect(harness.upstreams.released.count == 1, "the upstream connection goes back after the stream")
    }

    /// An Anthropic message whose text is `size` bytes long.
    static func message(textBytes size: Int) -> String {
        #"{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":""#
            + String(repeating: "a", count: size)
            + #""}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}"#
    }

    static func pieces(_ text: String, of size: Int) -> [String] {
        var pieces: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            pieces.append(String(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return pieces
    }

    @Test func aWholeAnswerOverAMebibyteIsConvertedAndOneOverTheLimitIsA502() async throws {
        for (textBytes, converts) in [(2 << 20, true), ((32 << 20) + 1, false)] {
            let harness = try Harness(service: try await ProxyFrontHandlerTests.makeService(apiFormat: .anthropicNative, outputFormat: "openai"))
            try harness.request(body: #"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#)
            _ = try harness.upstreamRequest()
            try harness.answer(headers: [("Content-Type", "application/json")], body: Self.pieces(Self.message(textBytes: textBytes), of: 256 * 1024))
            let parts = try harness.clientParts()
            guard case .head(let head) = parts.first else {
                Issue.record("no answer: \(parts.count) parts")
                continue
            }
            let body = Self.bodies(parts)
            if converts {
                #expect(head.status == .ok, "\(body.prefix(300))")
                #expect(body.hasPrefix(#"{"id":"#) && body.contains(#""object":"chat.completion""#), "\(body.prefix(300))")
                #expect(body.utf8.count > textBytes, "the whole text arrived converted")
            } else {
                #expect(head.status == .badGateway)
                #expect(body.contains("larger than 32 MiB"), "\(body.prefix(300))")
            }
        }
    }

    @Test func aStreamTheClientLeavesCountsTheTokensItReported() async throws {
        let service = try await ProxyFrontHandlerTests.makeService(apiFormat: .anthropicNative, outputFormat: "openai")
        let harness = try Harness(service: service)
        try harness.request(body: #"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
        _ = try harness.upstreamRequest()
        let start = Self.event("message_start", #"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"usage":{"input_tokens":7,"output_tokens":0}}}"#)
        try harness.answer(headers: [("Content-Type", "text/event-stream")], body: [start], end: false)
        _ = try harness.clientParts()
        _ = await service.coordinator.drainUsage()  // the request itself, counted when its key was handed out
        try await harness.client.close().get()
        let usage = await service.coordinator.drainUsage()
        #expect(usage.map(\.inputTokens) == [7], "the input tokens the stream reported before the client left: \(usage)")
    }
}
