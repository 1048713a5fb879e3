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
}
