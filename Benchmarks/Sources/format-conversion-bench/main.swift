// Prints the CPU time format conversion costs per request: a ~1 KB OpenAI Chat request converted for an
// Anthropic upstream plus its ~1 KB answer converted back, then the same for every pair. A figure, not a test:
// build with `-c release` (scripts/bench-format-conversion.sh) for a meaningful one.
import FormatConversion
import Foundation
import RotatorCore

func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

let requestBody = Array("""
{"model":"gpt-4o","messages":[{"role":"system","content":"You are a concise assistant for a travel company. Answer in two sentences."},\
{"role":"user","content":"I am planning a trip to Lisbon in October. What should I pack, and which neighbourhoods are best for a first visit? \
I like walking, food markets and small museums, and I would rather avoid very touristy places."},\
{"role":"assistant","content":"Pack layers and comfortable shoes; October is mild with some rain. Stay in Príncipe Real or Campo de Ourique."},\
{"role":"user","content":"Great. Can you check the weather forecast for the first week and suggest one day trip?"}],\
"tools":[{"type":"function","function":{"name":"get_forecast","description":"Weather forecast for a city and date range",\
"parameters":{"type":"object","properties":{"city":{"type":"string"},"from":{"type":"string"},"to":{"type":"string"}},"required":["city"]}}}],\
"temperature":0.3,"max_tokens":300}
""".utf8)

let answers: [APIFormat: [UInt8]] = [
    .anthropicNative: Array("""
    {"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[\
    {"type":"text","text":"The first week of October in Lisbon is usually sunny with highs around 24°C and a chance of showers midweek. \
    For a day trip, take the train to Sintra: palaces, forest walks and a market on Sundays, about 40 minutes from Rossio station. \
    Leave early to avoid the queues at Pena Palace and bring a light rain jacket."},\
    {"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_forecast","input":{"city":"Lisbon","from":"2025-10-01","to":"2025-10-07"}}],\
    "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":412,"output_tokens":118}}
    """.utf8),
    .openAICompatible: Array("""
    {"id":"chatcmpl-abc123","object":"chat.completion","created":1741569952,"model":"gpt-4o-2024-08-06","choices":[{"index":0,\
    "message":{"role":"assistant","content":"The first week of October in Lisbon is usually sunny with highs around 24°C and a chance of showers midweek. \
    For a day trip, take the train to Sintra: palaces, forest walks and a market on Sundays, about 40 minutes from Rossio station. \
    Leave early to avoid the queues at Pena Palace and bring a light rain jacket.","tool_calls":[{"id":"call_1","type":"function",\
    "function":{"name":"get_forecast","arguments":"{\\"city\\":\\"Lisbon\\",\\"from\\":\\"2025-10-01\\",\\"to\\":\\"2025-10-07\\"}"}}]},\
    "logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":412,"completion_tokens":118,"total_tokens":530}}
    """.utf8),
    .geminiNative: Array("""
    {"candidates":[{"content":{"role":"model","parts":[{"text":"The first week of October in Lisbon is usually sunny with highs around 24°C \
    and a chance of showers midweek. For a day trip, take the train to Sintra: palaces, forest walks and a market on Sundays, about 40 minutes \
    from Rossio station. Leave early to avoid the queues at Pena Palace and bring a light rain jacket."},\
    {"functionCall":{"name":"get_forecast","args":{"city":"Lisbon","from":"2025-10-01","to":"2025-10-07"}}}]},"finishReason":"STOP","index":0}],\
    "usageMetadata":{"promptTokenCount":412,"candidatesTokenCount":118,"totalTokenCount":530},"modelVersion":"gemini-2.5-flash","responseId":"r1"}
    """.utf8),
]

func measure(_ pair: FormatPair, iterations: Int) -> Double {
    let request = RequestConversion(pair: pair, models: ModelMapping(defaultModel: "upstream-model"))
    let response = ResponseConversion(pair: pair)
    let answer = answers[pair.upstream]!
    var sink = 0
    let start = processCPUSeconds()
    for _ in 0..<iterations {
        if case .forward(let converted) = request.convert(requestBody, call: ChatCall(), created: 1) { sink &+= converted.upstream.body.count }
        sink &+= response.convert(status: 200, body: answer, created: 1).body.count
    }
    let seconds = processCPUSeconds() - start
    precondition(sink > 0)
    return seconds / Double(iterations) * 1e6
}

let iterations = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 20_000
print("request \(requestBody.count) bytes; answers \(answers.mapValues(\.count).map { "\($0.key.rawValue) \($0.value)" }.sorted().joined(separator: ", ")) bytes")
_ = measure(FormatPair(client: .openAI, upstream: .anthropicNative)!, iterations: iterations / 10)  // warm-up
for upstream in [APIFormat.anthropicNative, .geminiNative, .openAICompatible] {
    let micros = measure(FormatPair(client: .openAI, upstream: upstream)!, iterations: iterations)
    print(String(format: "openai -> %@: %.1f µs CPU per request+answer pair (%d iterations)", upstream.rawValue, micros, iterations))
}
