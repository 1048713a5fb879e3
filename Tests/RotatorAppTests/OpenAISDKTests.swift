import Foundation
import Testing

/// The official `openai` Python package against a live node, streaming and not.
/// `make test` installs the package into a virtualenv and points ROTATOR_TEST_PYTHON at it. Without it the test
/// shows as skipped; in CI (CI=true) it runs, and a missing interpreter or package is a failure.
@Suite(.serialized, PythonSDKScript.enabledWhenConfigured) struct OpenAISDKTests {
    @Test func officialSDKStreamsAndNot() async throws {
        let python = try PythonSDKScript.interpreter()
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "sdk")
            try await node.addKeys(configID: id, sampleKeys(3, prefix: "sk-sdk"))
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Python/openai_client.py").path

            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [script, node.baseURL + "/llm/sdk/v1", TestNode.proxyKey]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            // The script's whole run is waited for on a thread of its own, never on the two cooperative threads that the
            // other tests and the in-process servers share (blocking one made parallel tests starve).
            let text = await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    let data = output.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(returning: String(decoding: data, as: UTF8.self))
                }
            }
            print("openai SDK:\n\(text)")
            #expect(process.terminationStatus == 0, "\(text)")
            #expect(text.contains("streaming ok"))
            #expect(node.mockState.totalCounters().requests >= 3)
        }
    }
}
