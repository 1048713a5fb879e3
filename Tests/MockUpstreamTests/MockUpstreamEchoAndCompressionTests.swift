import AsyncHTTPClient
import Foundation
import MockUpstream
import NIOCore
import Testing

/// What the mock learned for issue 16's leak tests: gzip error bodies in each provider's shape (when the request
/// accepts gzip, or always on request), the generic REST echo endpoint, and framework redirects repeating the URL.
@Suite("Mock upstream: echo, gzip, redirects")
struct MockUpstreamEchoAndCompressionTests {
    /// A client that decodes gzip as an SDK would, and shows redirects instead of following them.
    static func withDecodingClient(_ body: (HTTPClient) async throws -> Void) async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                configuration: .init(redirectConfiguration: .disallow, decompression: .enabled(limit: .none)))
        do {
            try await body(client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    static func json(_ client: HTTPClient, _ request: HTTPClientRequest) async throws -> (status: Int, encoding: String?, object: [String: Any]) {
        let response = try await client.execute(request, timeout: .seconds(5))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), response.headers.first(name: "content-encoding"), object)
    }

    @Test func errorBodiesAreGzippedWhenAcceptedInEachProvidersShape() async throws {
        try await MockUpstreamFixture.run { mock in
            try await Self.withDecodingClient { client in
                let cases: [(path: String, headers: [(String, String)], body: String, check: ([String: Any]) -> Bool)] = [
                    ("/v1/chat/completions", [], MockUpstreamFixture.chatBody, { ($0["error"] as? [String: Any])?["type"] as? String == "invalid_request_error" }),
                    ("/v1/messages", [MockUpstreamFixture.anthropicVersion], MockUpstreamFixture.messagesBody, { $0["type"] as? String == "error" }),
                    ("/v1beta/models/gemini-pro:generateContent", [], MockUpstreamFixture.geminiBody,
                     { ($0["error"] as? [String: Any])?["status"] as? String == "UNAUTHENTICATED" }),
                ]
                for item in cases {
                    // The decoding client sends `Accept-Encoding: deflate, gzip`.
                    let answer = try await Self.json(client, mock.request("POST", item.path, headers: item.headers, body: item.body))
                    #expect(answer.status == 401)
                    #expect(answer.encoding == "gzip", "\(item.path)")
                    #expect(item.check(answer.object), "\(item.path): \(answer.object)")
                    let plain = try await mock.send("POST", item.path, headers: item.headers + [("Accept-Encoding", "identity")], body: item.body)
                    #expect(plain.header("content-encoding") == nil, "identity asked, no gzip")
                    let refused = try await mock.send("POST", item.path, headers: item.headers + [("Accept-Encoding", "gzip;q=0, identity")], body: item.body)
                    #expect(refused.header("content-encoding") == nil, "gzip;q=0 refuses it")
                }
                let served = try await mock.send("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer sk-live-abcd"), ("Accept-Encoding", "gzip")],
                                                 body: MockUpstreamFixture.chatBody)
                #expect(served.header("content-encoding") == nil, "a 2xx is not gzipped unless asked to be")
                let always = try await Self.json(client, mock.request("POST", "/v1/chat/completions",
                                                                      headers: [("Authorization", "Bearer sk-live-abcd"), ("x-mock-gzip", "always")],
                                                                      body: MockUpstreamFixture.chatBody))
                #expect(always.encoding == "gzip")
                #expect(always.object["object"] as? String == "chat.completion")
            }
        }
    }

    @Test func theGenericEchoReturnsTheWholeRequestInTheEncodingsAsked() async throws {
        try await MockUpstreamFixture.run { mock in
            for method in ["GET", "POST", "TRACE"] {
                let echo = try await mock.send(method, "/api/echo?api_key=gk-echo-0001&x=1", headers: [("X-Note", "n")], body: method == "POST" ? "{\"a\":1}" : nil)
                #expect(echo.status == 200, "\(method): \(echo.body)")
                #expect(echo.json.string("method") == method)
                #expect(echo.json.string("url") == "/api/echo?api_key=gk-echo-0001&x=1")
                #expect(echo.json.object("headers").string("X-Note") == "n")
            }
            let encoded = try await mock.send("GET", "/api/echo", headers: [("Authorization", "Bearer gk-echo-0002"), ("x-mock-echo-as", "base64,basic,header-name")])
            let copy = try #require(Data(base64Encoded: encoded.json.object("as").string("base64") ?? ""))
            #expect(String(decoding: copy, as: UTF8.self).contains("Bearer gk-echo-0002"))
            #expect(encoded.json.object("as").string("basic") == "Basic " + Data("user:gk-echo-0002".utf8).base64EncodedString())
            #expect(encoded.header("x-echo-gk-echo-0002") == "1")
            let error = try await mock.send("GET", "/api/echo", headers: [("Authorization", "Bearer gk-echo-0003"), ("x-mock-echo-status", "400"),
                                                                           ("x-mock-echo-key-at", "100")])
            #expect(error.status == 400)
            #expect(error.body.dropFirst(100).hasPrefix("gk-echo-0003 "))
            // The LLM dialects stay strict: their paths answer only their own shapes.
            let chat = try await mock.send("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer gk-echo-0004")], body: "{}")
            #expect(chat.status == 400)
        }
    }

    @Test(arguments: [("308", "text/html; charset=utf-8"), ("302", "text/plain; charset=utf-8")])
    func redirectsRepeatTheURLWithItsQuery(status: String, contentType: String) async throws {
        try await MockUpstreamFixture.run { mock in
            try await Self.withDecodingClient { client in
                let request = mock.request("GET", "/api/items?page=2&api_key=gk-redirect-0001", headers: [("x-mock-redirect", status)])
                let response = try await client.execute(request, timeout: .seconds(5))
                let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                #expect(response.status.code == UInt(status)!)
                #expect(response.headers.first(name: "location") == "/api/items?page=2&api_key=gk-redirect-0001")
                #expect(response.headers.first(name: "content-type") == contentType)
                #expect(body.contains("/api/items?page=2&amp;api_key=gk-redirect-0001") || body.contains("/api/items?page=2&api_key=gk-redirect-0001"), "\(body)")
            }
        }
    }
}
