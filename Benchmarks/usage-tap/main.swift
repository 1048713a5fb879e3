// The usage tap's cost (scripts/bench-usage-tap.sh compiles it with -O beside the tap and the JSON parser): per whole
// answer (~1 KB, usage at its end) and per stream event (~200 B, most without usage). Prints nanoseconds per call.
#if canImport(Glibc)
import Glibc
#endif

func cpuNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

let text = String(repeating: "The first week of October in Lisbon is usually sunny with highs around 24°C. ", count: 10)
let whole: [(String, UsageTap.Dialect, [UInt8])] = [
    ("OpenAI chat", .openAI, Array(#"{"id":"chatcmpl-abc123","object":"chat.completion","created":1741569952,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"\#(text)"},"finish_reason":"stop"}],"usage":{"prompt_tokens":412,"completion_tokens":118,"total_tokens":530,"prompt_tokens_details":{"cached_tokens":0}}}"#.utf8)),
    ("Anthropic", .anthropic, Array(#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"\#(text)"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":412,"cache_read_input_tokens":0,"output_tokens":118}}"#.utf8)),
    ("Gemini", .gemini, Array(#"{"candidates":[{"content":{"role":"model","parts":[{"text":"\#(text)"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":412,"candidatesTokenCount":118,"totalTokenCount":530},"modelVersion":"gemini-2.5-flash"}"#.utf8)),
]
let events: [(String, UsageTap.Dialect, [UInt8])] = [
    ("OpenAI chunk", .openAI, Array("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" sunny with highs\"},\"finish_reason\":null}]}\n\n".utf8)),
    ("OpenAI chunk, usage null", .openAI, Array("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" sunny\"},\"finish_reason\":null}],\"usage\":null}\n\n".utf8)),
    ("Anthropic delta", .anthropic, Array("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" sunny with highs around\"}}\n\n".utf8)),
    ("Gemini chunk (usage in every one)", .gemini, Array("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" sunny with\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":6,\"totalTokenCount\":15},\"modelVersion\":\"gemini-2.5-flash\"}\r\n\r\n".utf8)),
]

func measure(_ name: String, _ dialect: UsageTap.Dialect, _ bytes: [UInt8], iterations: Int, perStream: Int) {
    var sink = 0
    let start = cpuNanoseconds()
    for _ in 0..<iterations {
        var tap = UsageTap(dialect: dialect)
        bytes.withUnsafeBytes { raw in
            for _ in 0..<perStream { tap.feed(raw) }
        }
        sink &+= tap.usage?.outputTokens ?? 0
    }
    let elapsed = Double(cpuNanoseconds() - start) / Double(iterations * perStream)
    print("\(name) (\(bytes.count) B): \(Int(elapsed.rounded())) ns per \(perStream == 1 ? "answer" : "event")  [\(sink > 0 ? "read" : "none")]")
}

print("usage tap, CPU time per call:")
for (name, dialect, bytes) in whole { measure(name, dialect, bytes, iterations: 200_000, perStream: 1) }
for (name, dialect, bytes) in events { measure(name, dialect, bytes, iterations: 20_000, perStream: 50) }
