// The mock upstream as its own process, for load tests and manual runs.
import Foundation
import Hummingbird
import MockUpstream

let usage = """
    usage: mock-upstream [--host 127.0.0.1] [--port 9000] [--chunks 5] [--chunk-delay-ms 0] [--latency-ms 0]
                         [--profiles FILE] [--seed N] [--record-limit 200]

      --profiles FILE   JSON object mapping key -> profile, e.g. {"sk-a": {"rateLimitPerSecond": 5}}; the key "*"
                        sets the default profile. Profile fields: revoked, rateLimitPerSecond, forceRateLimitRetryAfter,
                        failureStatus, failureRate, latencyMilliseconds, streamChunks,
                        chunkDelayMilliseconds, retryAfterStyle (seconds | httpDate | openAIResetHeaders | geminiRetryInfo | none).
      --record-limit N  recent requests kept for GET /__mock/requests; 0 turns recording off.

    Control API (no key needed): GET /__mock/counters (answers per key), GET /__mock/streams (streamed answers open
    now, the most open at once and how many started, overall and per key), GET /__mock/requests, POST /__mock/reset
    (all of it back to the start), PUT /__mock/profiles/{key}, PUT /__mock/default-profile, POST /__mock/storm?seconds=N.
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("mock-upstream: \(message)\n\n\(usage)\n".utf8))
    exit(2)
}

/// Flags parsed once into typed values; every mistake is named before anything starts.
struct Options {
    var host = "127.0.0.1"
    var port = 9000
    var settings = MockUpstreamSettings()
    var profilesFile: String?
    var seed: UInt64 = 0x5EED

    init(arguments: [String]) {
        var remaining = arguments[...]
        while let flag = remaining.popFirst() {
            if flag == "--help" || flag == "-h" {
                print(usage)
                exit(0)
            }
            guard let value = remaining.popFirst() else { fail("\(flag) needs a value") }
            func integer(_ range: ClosedRange<Int>) -> Int {
                guard let number = Int(value), range.contains(number) else { fail("\(flag) wants an integer in \(range), got '\(value)'") }
                return number
            }
            switch flag {
            case "--host": host = value
            case "--port": port = integer(0...65535)
            case "--chunks": settings.chunks = integer(0...100_000)
            case "--chunk-delay-ms": settings.chunkDelayMilliseconds = integer(0...600_000)
            case "--latency-ms": settings.latencyMilliseconds = integer(0...600_000)
            case "--record-limit": settings.recordedRequestLimit = integer(0...1_000_000)
            case "--profiles": profilesFile = value
            case "--seed":
                guard let seed = UInt64(value) else { fail("--seed wants an unsigned integer, got '\(value)'") }
                self.seed = seed
            default: fail("unknown flag \(flag)")
            }
        }
    }

    /// Per-key profiles and the default one (key "*") from `--profiles`.
    func profiles() -> (perKey: [String: KeyProfile], fallback: KeyProfile) {
        guard let profilesFile else { return ([:], KeyProfile()) }
        guard let data = FileManager.default.contents(atPath: profilesFile) else { fail("cannot read --profiles \(profilesFile)") }
        do {
            var perKey = try JSONDecoder().decode([String: KeyProfile].self, from: data)
            let fallback = perKey.removeValue(forKey: "*") ?? KeyProfile()
            return (perKey, fallback)
        } catch {
            fail("--profiles \(profilesFile) is not a JSON map of key -> profile: \(error)")
        }
    }
}

let options = Options(arguments: Array(CommandLine.arguments.dropFirst()))
let (profiles, defaultProfile) = options.profiles()
let state = MockUpstreamState(settings: options.settings, profiles: profiles, defaultProfile: defaultProfile, seed: options.seed)
let host = options.host
let app = try makeMockUpstreamApplication(state: state, host: host, port: options.port) { port in
    // Written unbuffered: a load-test script waits for this line on a pipe.
    FileHandle.standardOutput.write(Data("mock-upstream listening on \(host):\(port)\n".utf8))
}
try await app.runService()
