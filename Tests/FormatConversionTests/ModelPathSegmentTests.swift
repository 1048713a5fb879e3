import FormatConversion
import RotatorCore
import Testing

/// A Gemini upstream takes the model in its path (`/v1beta/models/{model}:generateContent`): whatever the client (or
/// the config's model map) names, it can only ever be one segment there, or the request is refused before it leaves.
@Suite struct ModelPathSegmentTests {
    static let hostile = ["../../v1/files?x=", "..", "a?key=b", "a#frag", "a/b", "%2e%2e", "gemini-pro:generateContent?alt=", "a b", "é"]

    static func convert(_ model: String, client: OutputFormat = .openAI, map: ModelMapping = .identity) throws -> RequestConversion.Outcome {
        let pair = try #require(FormatPair(client: client, upstream: .geminiNative))
        let body = Array(#"{"model":\#(quoted(model)),"messages":[{"role":"user","content":"hi"}]}"#.utf8)
        return RequestConversion(pair: pair, models: map).convert(body, call: ChatCall(), created: 0)
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    @Test(arguments: hostile)
    func aModelThatWouldChangeThePathIsRefusedNamingIt(model: String) throws {
        guard case .reject(let answer) = try Self.convert(model) else {
            Issue.record("'\(model)' reached the upstream's path")
            return
        }
        #expect(answer.status == 400)
        let text = String(decoding: answer.body, as: UTF8.self)
        #expect(text.contains("invalid_request_error"), "the client's (OpenAI) error shape: \(text)")
        #expect(text.contains("not a valid Gemini model name"), "\(text)")
    }

    @Test func aModelMapCannotPutOneThereEither() throws {
        guard case .reject = try Self.convert("gpt-4o", map: ModelMapping(map: ["gpt-4o": "../tunedModels/x"])) else {
            Issue.record("a mapped model reached the path")
            return
        }
    }

    @Test(arguments: ["gemini-2.5-flash", "models/gemini-1.5-pro-002", "gemma-3-27b-it", "learnlm-1.5-pro-experimental"])
    func realModelNamesPass(model: String) throws {
        guard case .forward(let converted) = try Self.convert(model) else {
            Issue.record("'\(model)' refused")
            return
        }
        let id = model.hasPrefix("models/") ? String(model.dropFirst(7)) : model
        #expect(converted.upstream.path == "/v1beta/models/\(id):generateContent")
    }
}
