import Foundation
import Testing

/// One of the SDK scripts in `Python/`, run with the test virtualenv's interpreter (`scripts/test.sh` installs
/// openai, anthropic and google-genai there and sets ROTATOR_TEST_PYTHON). Tests that run one carry
/// `enabledWhenConfigured`: without the interpreter they show as skipped; in CI they run and a missing one fails.
enum PythonSDKScript: String, CaseIterable, Sendable {
    case openAI = "sdk_openai.py"
    case anthropic = "sdk_anthropic.py"
    case gemini = "sdk_gemini.py"

    struct Run: Sendable {
        var status: Int32
        var output: String
    }

    static var python: String? {
        guard let configured = ProcessInfo.processInfo.environment["ROTATOR_TEST_PYTHON"], !configured.isEmpty else { return nil }
        return configured
    }

    /// In CI (`CI=true`) the SDK tests must run: there a missing interpreter fails them instead of skipping them.
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The trait of every test that runs an SDK script: skipped (and reported as skipped, never as passed) without
    /// the virtualenv, except in CI.
    static var enabledWhenConfigured: ConditionTrait {
        .enabled(if: python != nil || isCI, "ROTATOR_TEST_PYTHON is unset: `make test` (scripts/test.sh) sets up the SDKs' virtualenv")
    }

    /// The interpreter; in CI without one, a failure naming what to do.
    static func interpreter(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(python, "CI=true but ROTATOR_TEST_PYTHON is unset: run the suite with scripts/test.sh", sourceLocation: sourceLocation)
    }

    /// Runs the script against `baseURL` with `key` (and a model name when given) and returns what it printed.
    /// `extra` goes after the model (`sdk_openai.py`: which APIs to call, `chat` or `responses`).
    func run(python: String, baseURL: String, key: String, model: String? = nil, extra: [String] = []) async throws -> Run {
        try await Self.runScript(rawValue, python: python, arguments: [baseURL, key] + (model.map { [$0] } ?? []) + (model == nil ? [] : extra))
    }

    /// Runs any script of `Python/` with these arguments and returns what it printed.
    static func runScript(_ name: String, python: String, arguments: [String]) async throws -> Run {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Python/\(name)").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Reading to the end and waiting block for the script's whole run: on a thread of their own, never on
        // the two cooperative threads that every other test (and the in-process servers) share.
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self)))
            }
        }
    }
}
