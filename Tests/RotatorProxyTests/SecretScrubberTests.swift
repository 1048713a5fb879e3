import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Testing
@testable import UpstreamProviders

/// For every place a key is injected, an upstream that echoes the request (a redirect that keeps the query, a
/// `Link`, an error body quoting the URL and the credential header) hands the client nothing of the key.
@Suite struct SecretScrubberTests {
    /// With characters that percent-encoding changes, so the encoded forms differ from the raw one.
    static let secret = "sk-live/Ab+c=9_Zq"

    enum Placement: String, CaseIterable, Sendable {
        case openAIHeader, anthropicHeader, geminiHeader, genericHeader, genericQuery
    }

    static func config(_ placement: Placement) -> (ProxyConfig, ProxyRouteKind) {
        let format: APIFormat
        let route: ProxyRouteKind
        var location = APIKeyLocation.header
        var name = "Authorization"
        switch placement {
        case .openAIHeader: (format, route) = (.openAICompatible, .llm)
        case .anthropicHeader: (format, route) = (.anthropicNative, .llm)
        case .geminiHeader: (format, route) = (.geminiNative, .llm)
        case .genericHeader: (format, route, name) = (.openAICompatible, .generic, "X-Service-Token")
        case .genericQuery: (format, route, location, name) = (.openAICompatible, .generic, .query, "api_key")
        }
        let config = ProxyConfig(
            id: 1, name: "c", slug: "c", configType: route == .llm ? .llm : .generic, apiKeyLocation: location, apiKeyName: name, isActive: true,
            method: nil, targetURL: "https://api.example.com/v1", targetBaseURL: "https://api.example.com/v1", apiFormat: format, outputFormat: nil,
            keyRPM: 0, createdAt: Date(timeIntervalSince1970: 0), updatedAt: Date(timeIntervalSince1970: 0), version: 1
        )
        return (config, route)
    }

    /// Every form the key may take on the wire.
    static func forms(of secret: String) -> [String] {
        let encoded = QueryString.encodeComponent(secret)
        return [secret, encoded, lowercasingEscapes(encoded), secret.replacingOccurrences(of: "/", with: "\\/")]
    }

    /// What a server that writes escapes in lower case sends back.
    static func lowercasingEscapes(_ text: String) -> String {
        ["%2F": "%2f", "%2B": "%2b", "%3D": "%3d"].reduce(text) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
    }

    @Test(arguments: Placement.allCases)
    func nothingOfTheKeyReachesTheClient(placement: Placement) throws {
        let (config, route) = Self.config(placement)
        let injection = KeyInjection(config: config, route: route)
        var headers = HeaderPolicy.upstreamHeaders(from: HTTPHeaders([("Accept", "*/*")]), requestID: "r", extraRemoved: injection.headerToDrop)
        var query: String? = "alt=sse"
        injection.apply(secret: Self.secret, headers: &headers, query: &query)
        let url = try UpstreamURLBuilder.build(target: try #require(UpstreamTarget("https://api.example.com/v1")), rest: "/chat/completions", query: query)
        let sentCredential = headers.first { $0.value.contains(Self.secret) }.map { "\($0.name): \($0.value)" } ?? ""
        #expect(url.contains(QueryString.encodeComponent(Self.secret)) || !sentCredential.isEmpty, "the key was injected somewhere")

        // The upstream echoes what it got, in every place a response can carry it.
        var answer = HTTPHeaders()
        answer.add(name: "Location", value: url)
        answer.add(name: "Content-Location", value: Self.lowercasingEscapes(url))
        answer.add(name: "Link", value: "<\(url)>; rel=\"next\"")
        answer.add(name: "X-Echo-Credential", value: sentCredential)
        answer.add(name: "Content-Type", value: "application/json")
        let echoed = try JSONSerialization.data(withJSONObject: ["error": ["message": "bad request to \(url) with \(sentCredential)"]])
        let body = ByteBuffer(bytes: echoed)
        #expect(String(buffer: body).contains("\\/"), "JSONSerialization escapes '/' as the providers do")

        let scrubber = SecretScrubber(secret: Self.secret)
        let fields = HeaderPolicy.clientHeaders(from: answer, keepContentLength: false, scrubbing: scrubber)
        let scrubbedBody = String(buffer: scrubber.scrub(body))
        let everything = fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n") + "\n" + scrubbedBody
        for form in Self.forms(of: Self.secret) {
            #expect(!everything.contains(form), "\(placement): '\(form)' reached the client:\n\(everything)")
        }
        #expect(everything.contains(SecretScrubber.replacement))
        #expect(fields.first(name: "content-type") == "application/json", "headers without the key pass unchanged")
    }

    @Test func scrubsEveryOccurrenceAndLeavesTheRest() {
        let scrubber = SecretScrubber(secret: "abc123")
        // Each occurrence becomes as many bytes: `*` for a key shorter than the word, `REDACTED` then `*` otherwise.
        #expect(scrubber.scrub("abc123 and abc123abc123") == "****** and ************")
        #expect(SecretScrubber(secret: "abcdef123456").scrub("k=abcdef123456;") == "k=REDACTED****;")
        #expect(scrubber.scrub("nothing here") == "nothing here")
        #expect(!scrubber.contains("abc12"))
        #expect(SecretScrubber(secret: "").scrub("anything") == "anything")
        var headers = HTTPFields()
        headers.append(HTTPField(name: .location, value: "https://x/?key=abc123"))
        #expect(scrubber.scrub(headers)[.location] == "https://x/?key=******")
    }
}
