#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if !USAGE_TAP_BENCH
import FormatConversion
#endif

/// Reads the tokens an LLM answer reports while it passes, without holding or changing a byte of it: a whole answer in
/// one `feed`, a stream part by part as it is relayed (its events split anywhere). Every part is searched for the
/// dialect's usage key with one byte search (`memmem`) before anything is parsed, so a part without usage costs next
/// to nothing; only the usage object itself is parsed, and a later report replaces what an earlier one said (streams
/// report cumulative counts: Gemini's every chunk, Anthropic's `message_start` then `message_delta`, OpenAI's last
/// chunk, Responses' `response.completed`).
///
/// Shapes read (the providers' documented usage objects):
/// - OpenAI Chat Completions: `usage.prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`
///   (streams: the chunk sent when `stream_options.include_usage` was asked).
/// - OpenAI Responses: `usage.input_tokens`, `output_tokens`, `input_tokens_details.cached_tokens` (streams: in
///   `response.completed`'s `response`).
/// - Anthropic: `usage.input_tokens` + `cache_creation_input_tokens` + `cache_read_input_tokens` as input (all billed
///   input), `output_tokens`, `cache_read_input_tokens` as cached; `message_delta`'s counts are cumulative.
/// - Gemini: `usageMetadata.promptTokenCount` (includes cached content), `candidatesTokenCount` +
///   `thoughtsTokenCount` as output, `cachedContentTokenCount` as cached.
struct UsageTap: Sendable {
    enum Dialect: Sendable {
        /// Chat Completions and Responses (both spellings are read).
        case openAI
        case anthropic
        case gemini

        /// The needle's byte searched for first: its rarest in JSON text (`g` of usage, `M` of usageMetadata).
        var anchor: Int {
            switch self {
            case .openAI, .anthropic: 4
            case .gemini: 6
            }
        }

        /// The key the usage object is found under, with its quotes.
        var needle: StaticString {
            switch self {
            case .openAI, .anthropic: "\"usage\""
            case .gemini: "\"usageMetadata\""
            }
        }
    }

    let dialect: Dialect
    private(set) var input: Int?
    private(set) var output: Int?
    private(set) var cached: Int?
    /// A usage value cut by a part's end: its bytes so far (from the needle on), completed by the next parts.
    private var pending: [UInt8]?
    /// How many of the needle's first bytes the last part ended with (a key split across two parts).
    private var partialNeedle = 0

    /// A usage object longer than this is not a usage object: it is dropped rather than held.
    static let pendingLimit = 16 << 10

    init(dialect: Dialect) {
        self.dialect = dialect
    }

    /// What the answer reported so far; nil when it reported nothing.
    var usage: TokenUsage? {
        guard input != nil || output != nil else { return nil }
        return TokenUsage(inputTokens: input ?? 0, outputTokens: output ?? 0, cachedTokens: cached ?? 0)
    }

    /// Reads one part of the answer (a whole body, or a stream's next bytes).
    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let needle = dialect.needle
        var from = 0
        if var held = pending {
            // Complete the value the last part cut.
            pending = nil
            held.append(contentsOf: bytes)
            let consumed = held.count - bytes.count
            let end = held.withUnsafeBytes { scanHit(in: $0, at: 0) }
            guard let end else { return }
            from = max(0, end - consumed)
        } else if partialNeedle > 0 {
            let held = partialNeedle
            partialNeedle = 0
            let restCount = needle.utf8CodeUnitCount - held
            let compared = min(restCount, bytes.count)
            if memcmp(bytes.baseAddress!, needle.utf8Start.advanced(by: held), compared) == 0 {
                // Still not the whole key: wait for more.
                if compared < restCount {
                    partialNeedle = held + compared
                    return
                }
                var joined = Array(UnsafeBufferPointer(start: needle.utf8Start, count: held))
                joined.append(contentsOf: bytes)
                let end = joined.withUnsafeBytes { scanHit(in: $0, at: 0) }
                guard let end else { return }
                from = max(0, end - held)
            }
        }
        while from < bytes.count {
            guard let at = Self.find(needle, anchor: dialect.anchor, in: bytes, from: from) else {
                partialNeedle = Self.needlePrefix(endingAt: bytes, needle: needle)
                return
            }
            guard let end = scanHit(in: bytes, at: at) else { return }
            from = end
        }
    }

    /// The usage value after the needle found at `at`: read when complete (returns where scanning goes on), held as
    /// pending when the bytes end first (returns nil).
    private mutating func scanHit(in bytes: UnsafeRawBufferPointer, at: Int) -> Int? {
        let needleCount = dialect.needle.utf8CodeUnitCount
        // `\"usage\"` inside a string is text, not a key.
        if at > 0, bytes[at - 1] == UInt8(ascii: "\\") { return at + needleCount }
        var index = at + needleCount
        func skipSpaces() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
        }
        skipSpaces()
        if index < bytes.count {
            guard bytes[index] == UInt8(ascii: ":") else { return index }
            index += 1
            skipSpaces()
        }
        guard index < bytes.count else { return hold(bytes, from: at) }
        guard bytes[index] == UInt8(ascii: "{") else { return index }
        let start = index
        var depth = 0
        var inString = false
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "{") {
                depth += 1
            } else if byte == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 {
                    if let value = try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: bytes[start...index])) { read(value) }
                    return index + 1
                }
            }
            index += 1
        }
        return hold(bytes, from: at)
    }

    /// Where the needle first occurs at or after `from`: `memchr` for its rarest byte (`anchor`), then `memcmp`.
    private static func find(_ needle: StaticString, anchor: Int, in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        let count = needle.utf8CodeUnitCount
        let anchorByte = Int32(needle.utf8Start[anchor])
        var searchFrom = from + anchor
        while searchFrom < bytes.count {
            guard let hit = memchr(bytes.baseAddress! + searchFrom, anchorByte, bytes.count - searchFrom) else { return nil }
            let start = bytes.baseAddress!.distance(to: UnsafeRawPointer(hit)) - anchor
            if start + count <= bytes.count, memcmp(bytes.baseAddress! + start, needle.utf8Start, count) == 0 { return start }
            searchFrom = start + anchor + 1
        }
        return nil
    }

    private mutating func hold(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        if bytes.count - from <= Self.pendingLimit { pending = Array(bytes[from...]) }
        return nil
    }

    /// The longest prefix of the needle the bytes end with (0 when none).
    private static func needlePrefix(endingAt bytes: UnsafeRawBufferPointer, needle: StaticString) -> Int {
        guard let last = bytes.last, last == UInt8(ascii: "\"") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(last) || last == UInt8(ascii: "M") else {
            return 0
        }
        var length = min(needle.utf8CodeUnitCount - 1, bytes.count)
        while length > 0 {
            if memcmp(bytes.baseAddress! + (bytes.count - length), needle.utf8Start, length) == 0 { return length }
            length -= 1
        }
        return 0
    }

    /// One usage object: the fields it has replace what earlier reports said.
    private mutating func read(_ value: JSONValue) {
        switch dialect {
        case .openAI:
            if let prompt = value["prompt_tokens"]?.int ?? value["input_tokens"]?.int { input = prompt }
            if let completion = value["completion_tokens"]?.int ?? value["output_tokens"]?.int { output = completion }
            if let hit = (value["prompt_tokens_details"] ?? value["input_tokens_details"])?["cached_tokens"]?.int { cached = hit }
        case .anthropic:
            let fresh = value["input_tokens"]?.int, written = value["cache_creation_input_tokens"]?.int
            let read = value["cache_read_input_tokens"]?.int
            if fresh != nil || written != nil || read != nil {
                let total = (fresh ?? 0) + (written ?? 0) + (read ?? 0)
                // `message_delta` may repeat the input as 0 where `message_start` gave it.
                if total > 0 || input == nil { input = total }
                if let read, read > 0 || cached == nil { cached = read }
            }
            if let generated = value["output_tokens"]?.int { output = generated }
        case .gemini:
            if let prompt = value["promptTokenCount"]?.int { input = prompt }
            let candidates = value["candidatesTokenCount"]?.int, thoughts = value["thoughtsTokenCount"]?.int
            if candidates != nil || thoughts != nil { output = (candidates ?? 0) + (thoughts ?? 0) }
            if let hit = value["cachedContentTokenCount"]?.int { cached = hit }
        }
    }
}
