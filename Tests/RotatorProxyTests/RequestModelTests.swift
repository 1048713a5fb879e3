import NIOCore
@testable import RotatorProxy
import Testing
@testable import UpstreamProviders

/// The model an upstream request names, read without parsing the body into objects.
@Suite struct RequestModelTests {
    private func model(_ body: String, dialect: UpstreamDialect = .openAI, path: String = "/v1/chat/completions") -> String? {
        RequestModel.name(dialect: dialect, path: path, body: ByteBuffer(string: body))
    }

    @Test func readsTheTopLevelModelWhereverItIs() {
        #expect(model(#"{"model":"gpt-4o","messages":[]}"#) == "gpt-4o")
        #expect(model(#" { "messages" : [{"role":"user","content":"say \"model\": \"x\"","model":"inner"}], "n": 1, "model" : "gpt-4o-mini" } "#)
            == "gpt-4o-mini", "nested and quoted `model`s are skipped")
        #expect(model(#"{"metadata":{"model":"no"},"stream":true,"temperature":0.5,"model":"claude-3"}"#, dialect: .anthropic) == "claude-3")
        #expect(model(#"{"messages":[]}"#) == nil)
        #expect(model(#"{"model":42}"#) == nil)
        #expect(model(#"[{"model":"x"}]"#) == nil)
        #expect(model(#"{"model":"unterminated"#) == nil)
        #expect(model(#"{"model":"\#(String(repeating: "m", count: 300))"}"#) == nil, "no provider's model name is that long")
    }

    @Test func geminiNamesItInThePathAndGenericConfigsNone() {
        #expect(model("{}", dialect: .gemini, path: "/v1beta/models/gemini-2.0-flash:generateContent") == "gemini-2.0-flash")
        #expect(model("{}", dialect: .gemini, path: "/v1beta/models/api%20key%20not%20valid:streamGenerateContent") == "api%20key%20not%20valid")
        #expect(model("{}", dialect: .gemini, path: "/v1beta/models") == nil)
        #expect(model(#"{"model":"x"}"#, dialect: .generic, path: "/x") == nil)
    }
}
