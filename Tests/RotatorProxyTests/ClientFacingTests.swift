import Foundation
import NIOCore
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Testing
@testable import UpstreamProviders

@Suite struct ClientFacingTests {
    @Test func credentialPlacesPerFormat() {
        func headers(_ name: String, _ value: String) -> HTTPHeaders { HTTPHeaders([(name, value)]) }
        let bearer = headers("Authorization", "Bearer pk")
        #expect(ClientCredential.find(in: bearer, query: nil, format: .openAICompatible, route: .llm) == "pk")
        let anthropic = headers("x-api-key", "pk")
        #expect(ClientCredential.find(in: anthropic, query: nil, format: .anthropicNative, route: .llm) == "pk")
        #expect(ClientCredential.find(in: anthropic, query: nil, format: .openAICompatible, route: .llm) == nil)
        #expect(ClientCredential.find(in: [:], query: "key=pk&alt=sse", format: .geminiNative, route: .llm) == "pk")
        let goog = headers("x-goog-api-key", "pk")
        #expect(ClientCredential.find(in: goog, query: nil, format: .geminiNative, route: .llm) == "pk")
        let proxyKey = headers("X-Proxy-Key", "pk")
        #expect(ClientCredential.find(in: proxyKey, query: nil, format: .openAICompatible, route: .generic) == "pk")
        #expect(ClientCredential.find(in: [:], query: "key=pk", format: .geminiNative, route: .generic) == nil)
        #expect(ClientCredential.find(in: headers("Authorization", "Basic pk"), query: nil, format: .openAICompatible, route: .llm) == nil)
    }

    @Test func errorShapes() throws {
        func object(_ format: APIFormat?) throws -> [String: Any] {
            let body = ClientErrorShape.body(kind: .rateLimited, status: 429, message: "busy", format: format)
            return try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])
        }
        let openAI = try #require(try object(.openAICompatible)["error"] as? [String: Any])
        #expect(openAI["message"] as? String == "busy")
        #expect(openAI["type"] as? String == "rate_limit_error")
        #expect(openAI["code"] as? String == "rate_limit_exceeded")
        let anthropic = try object(.anthropicNative)
        #expect(anthropic["type"] as? String == "error")
        #expect((anthropic["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")
        let gemini = try #require(try object(.geminiNative)["error"] as? [String: Any])
        #expect(gemini["status"] as? String == "RESOURCE_EXHAUSTED")
        #expect(gemini["code"] as? Int == 429)
        #expect(try object(nil)["error"] as? String == "busy")
    }

    @Test func bodyAPIKeyIsRemoved() throws {
        let body = ByteBuffer(string: #"{"model":"m","api_key":"pk","messages":[]}"#)
        let extracted = try #require(ClientCredential.extractBodyAPIKey(from: body))
        #expect(extracted.key == "pk")
        let rest = String(buffer: extracted.body)
        #expect(!rest.contains("api_key"))
        #expect(rest.contains("\"model\""))
        #expect(ClientCredential.extractBodyAPIKey(from: ByteBuffer(string: #"{"model":"m"}"#)) == nil)
    }

    @Test func byteSearchFindsTheNeedleAnywhereAndOnlyWhole() {
        func has(_ text: String) -> Bool { ByteSearch.contains(ByteBuffer(string: text), "\"api_key\"") }
        #expect(has(#""api_key""#))
        #expect(has(#"{"api_key":1}"#))
        #expect(has(#"{"a":"\"api_","api_key"#) == false)
        #expect(has(#"{"x":1,"api_key""#))
        #expect(has(#""api_ke"api_key""#))
        #expect(has(#""api_ke""#) == false)
        #expect(has("") == false)
        var sliced = ByteBuffer(string: #"xx"api_key"yy"#)
        sliced.moveReaderIndex(forwardBy: 3)
        #expect(ByteSearch.contains(sliced, "\"api_key\"") == false, "only the readable bytes count")
    }
}
