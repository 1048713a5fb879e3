import Foundation
import FormatConversion
import RotatorCore
import Testing

/// The golden files under `Golden/`: inputs written from the providers' API references, expected outputs
/// checked by hand once and compared on every run. `FORMAT_GOLDEN_UPDATE=1` rewrites the expected files
/// (then read the diff before committing it).
enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static var updating: Bool { ProcessInfo.processInfo.environment["FORMAT_GOLDEN_UPDATE"] == "1" }

    static func bytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(path)))
    }

    static func json(_ path: String) throws -> JSONValue {
        try JSONParser.parse(try bytes(path))
    }

    /// Compares `actual` with the expected file (or writes it when updating).
    static func expect(_ actual: JSONValue, matches path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = directory.appendingPathComponent(path)
        if updating {
            try Data((PrettyJSON.string(actual) + "\n").utf8).write(to: url)
            return
        }
        let expected = try JSONParser.parse(Array(try Data(contentsOf: url)))
        #expect(actual == expected, "\(path) differs:\n\(PrettyJSON.string(actual))", sourceLocation: sourceLocation)
    }

    static func expect(text actual: String, matches path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = directory.appendingPathComponent(path)
        if updating {
            try Data(actual.utf8).write(to: url)
            return
        }
        let expected = String(decoding: try Data(contentsOf: url), as: UTF8.self)
        #expect(actual == expected, "\(path) differs:\n\(actual)", sourceLocation: sourceLocation)
    }

    static let clientFormats: [OutputFormat] = [.openAI, .openAIResponses, .anthropic, .gemini]
    static let upstreamFormats: [APIFormat] = [.openAICompatible, .anthropicNative, .geminiNative]

    /// The call a client fixture is sent as (Gemini's model and streaming live in the path).
    static func call(for client: OutputFormat, streams: Bool = false) -> ChatCall {
        client == .gemini ? ChatCall(pathModel: "gemini-2.5-flash", pathStreams: streams) : ChatCall()
    }
}

/// Two-space indented JSON in member order, for readable golden files.
enum PrettyJSON {
    static func string(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let elements) where !elements.isEmpty:
            return "[\n" + elements.map { inner + string($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let object) where !object.isEmpty:
            return "{\n" + object.members.map { member in
                inner + JSONWriter.string(.string(member.key)) + ": " + string(member.value, indent: inner)
            }.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return JSONWriter.string(value)
        }
    }
}
