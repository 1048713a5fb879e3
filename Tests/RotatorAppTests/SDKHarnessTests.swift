import Foundation
import MockUpstream
import Testing

/// The SDK scripts against the strict mock directly, each in its own dialect: proves the scripts (and the
/// mock's dialects) before the format-conversion tests run them through the rotator.
@Suite(.serialized, PythonSDKScript.enabledWhenConfigured) struct SDKHarnessTests {
    @Test(arguments: PythonSDKScript.allCases)
    func scriptPassesAgainstItsOwnDialect(script: PythonSDKScript) async throws {
        let python = try PythonSDKScript.interpreter()
        let state = MockUpstreamState()
        let mock = try await MockUpstreamServer.start(state: state)
        try await mock.whileRunning { mock in
            let base = script == .openAI ? mock.baseURL + "/v1" : mock.baseURL
            let run = try await script.run(python: python, baseURL: base, key: "sk-sdk-harness-0001")
            print("\(script.rawValue):\n\(run.output)")
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("checks passed"))
            #expect(state.counters()["sk-sdk-harness-0001"]?.success ?? 0 >= 5)
            #expect(state.counters()[MockUpstreamState.missingKeyLabel] == nil, "every request carried the key where the provider wants it")
        }
    }
}
