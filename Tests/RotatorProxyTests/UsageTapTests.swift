import FormatConversion
import NIOCore
import Testing

@testable import RotatorProxy

/// The usage tap on the providers' documented answer shapes, whole and streamed, split anywhere.
struct UsageTapTests {
    static let openAIChatWhole = #"""
        {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,"model":"gpt-4o-2024-08-06",
         "choices":[{"index":0,"message":{"role":"assistant","content":"The \"usage\": {\"prompt_tokens\": 99} field","refusal":null},
         "logprobs":null,"finish_reason":"stop"}],
         "usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,
          "prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},
          "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},
         "service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}
        """#

    static let openAIChatStream = """
        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}],"usage":null}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":3}}}

        data: [DONE]


        """

    static let responsesStream = """
        event: response.created
        data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[],"usage":null}}

        event: response.output_text.delta
        data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}

        event: response.completed
        data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","status":"completed","output":[],"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":8},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}}}


        """

    static let anthropicWhole = #"""
        {"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4-5",
         "content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,
         "usage":{"input_tokens":2095,"cache_creation_input_tokens":100,"cache_read_input_tokens":500,"output_tokens":503}}
        """#

    static let anthropicStream = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":1}}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}

        event: message_stop
        data: {"type":"message_stop"}


        """

    static let geminiStream = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"},\"index\":0}],"
        + "\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":1,\"totalTokenCount\":10},\"modelVersion\":\"gemini-2.5-flash\"}\r\n\r\n"
        + "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
        + "\"usageMetadata\":{\"promptTokenCount\":9,\"cachedContentTokenCount\":4,\"candidatesTokenCount\":6,\"thoughtsTokenCount\":20,"
        + "\"totalTokenCount\":35},\"modelVersion\":\"gemini-2.5-flash\"}\r\n\r\n"

    static func tapped(_ dialect: UsageTap.Dialect, _ text: String) -> TokenUsage? {
        var tap = UsageTap(dialect: dialect)
        tap.feed(ByteBuffer(string: text))
        return tap.usage
    }

    @Test func openAIChatWholeAnswer() {
        #expect(Self.tapped(.openAI, Self.openAIChatWhole) == TokenUsage(inputTokens: 1117, outputTokens: 46, cachedTokens: 1024))
    }

    @Test func openAIChatStreamWithIncludeUsage() {
        #expect(Self.tapped(.openAI, Self.openAIChatStream) == TokenUsage(inputTokens: 19, outputTokens: 10, cachedTokens: 3))
    }

    @Test func openAIChatStreamWithoutUsageReportsNothing() {
        let stream = Self.openAIChatStream.split(separator: "\n").filter { !$0.contains("prompt_tokens") }.joined(separator: "\n")
        #expect(Self.tapped(.openAI, stream) == nil)
    }

    @Test func responsesWholeAndStream() {
        let whole = #"{"id":"resp_1","object":"response","status":"completed","output":[],"usage":{"input_tokens":328,"input_tokens_details":{"cached_tokens":0},"output_tokens":52,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":380}}"#
        #expect(Self.tapped(.openAI, whole) == TokenUsage(inputTokens: 328, outputTokens: 52, cachedTokens: 0))
        #expect(Self.tapped(.openAI, Self.responsesStream) == TokenUsage(inputTokens: 36, outputTokens: 87, cachedTokens: 8))
    }

    @Test func anthropicWholeCountsCacheReadsAndWritesAsInput() {
        #expect(Self.tapped(.anthropic, Self.anthropicWhole) == TokenUsage(inputTokens: 2695, outputTokens: 503, cachedTokens: 500))
    }

    @Test func anthropicStreamTakesInputFromStartAndOutputFromDelta() {
        #expect(Self.tapped(.anthropic, Self.anthropicStream) == TokenUsage(inputTokens: 30, outputTokens: 15, cachedTokens: 5))
    }

    @Test func anthropicDeltaWithCumulativeInputReplacesIt() {
        let stream = Self.anthropicStream.replacingOccurrences(
            of: #""usage":{"output_tokens":15}"#, with: #""usage":{"input_tokens":40,"cache_read_input_tokens":5,"output_tokens":15}"#)
        #expect(Self.tapped(.anthropic, stream) == TokenUsage(inputTokens: 45, outputTokens: 15, cachedTokens: 5))
    }

    @Test func geminiLastChunkCounts() {
        #expect(Self.tapped(.gemini, Self.geminiStream) == TokenUsage(inputTokens: 9, outputTokens: 26, cachedTokens: 4))
        // Without `alt=sse`: one JSON array, pretty-printed across lines.
        let array = "[{\n  \"candidates\": [],\n  \"usageMetadata\": {\n    \"promptTokenCount\": 3,\n    \"candidatesTokenCount\": 2\n  }\n}\n]"
        #expect(Self.tapped(.gemini, array) == TokenUsage(inputTokens: 3, outputTokens: 2, cachedTokens: 0))
    }

    /// Every stream, cut into two parts at every byte and into single bytes: the same usage.
    @Test(arguments: [
        (UsageTap.Dialect.openAI, openAIChatStream), (.openAI, responsesStream), (.anthropic, anthropicStream), (.gemini, geminiStream),
    ])
    func splitsAnywhereReadTheSame(_ dialect: UsageTap.Dialect, _ stream: String) {
        let bytes = Array(stream.utf8)
        let expected = Self.tapped(dialect, stream)
        #expect(expected != nil)
        for cut in 0...bytes.count {
            var tap = UsageTap(dialect: dialect)
            tap.feed(ByteBuffer(bytes: bytes[..<cut]))
            tap.feed(ByteBuffer(bytes: bytes[cut...]))
            #expect(tap.usage == expected, "cut at \(cut)")
        }
        var single = UsageTap(dialect: dialect)
        for byte in bytes { single.feed(ByteBuffer(bytes: [byte])) }
        #expect(single.usage == expected, "byte by byte")
    }

    @Test func aStreamLeftEarlyReportsWhatItsEventsSaid() {
        let cut = Self.anthropicStream.range(of: "event: message_delta")!.lowerBound
        #expect(Self.tapped(.anthropic, String(Self.anthropicStream[..<cut])) == TokenUsage(inputTokens: 30, outputTokens: 1, cachedTokens: 5))
    }

    @Test func nullAndTextMentionsAreNotUsage() {
        #expect(Self.tapped(.openAI, #"{"usage":null,"text":"the \"usage\":{\"prompt_tokens\":5}"}"#) == nil)
    }
}
