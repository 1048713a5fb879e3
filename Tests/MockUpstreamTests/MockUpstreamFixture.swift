import AsyncHTTPClient
import Foundation
import Hummingbird
import MockUpstream

/// One mock server per test on a free port, and a small client for it.
struct MockUpstreamFixture {
    let state: MockUpstreamState
    let server: RunningMockUpstream

    static func run<T>(
        _ state: MockUpstreamState = MockUpstreamState(),
        _ body: (MockUpstreamFixture) async throws -> T
    ) async throws -> T {
        let server = try await MockUpstreamServer.start(state: state)
        let fixture = MockUpstreamFixture(state: state, server: server)
        do {
            let result = try await body(fixture)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: String? = nil) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: server.baseURL + path)
        request.method = .init(rawValue: method)
        for (name, value) in headers {
            request.headers.add(name: name, value: value)
        }
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
        }
        return request
    }

    func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: String? = nil) async throws -> MockResponse {
        let response = try await HTTPClient.shared.execute(request(method, path, headers: headers, body: body), timeout: .seconds(5))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return MockResponse(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name, $0.value) },
            body: String(decoding: bytes.readableBytesView, as: UTF8.self)
        )
    }

    func chat(key: String, headers: [(String, String)] = []) async throws -> MockResponse {
        try await send("POST", "/v1/chat/completions", headers: [("Authorization", "Bearer \(key)")] + headers, body: Self.chatBody)
    }

    /// The smallest request each provider accepts.
    static let chatBody = #"{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}"#
    static let streamedChatBody = #"{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
    static let messagesBody = #"{"model":"claude-test","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#
    static let streamedMessagesBody = #"{"model":"claude-test","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#
    static let geminiBody = #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#
    static let anthropicVersion = ("anthropic-version", "2023-06-01")
}

struct MockResponse {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The body as a JSON object, or an empty one (so a failed expectation names the field, not a cast).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
}

extension Dictionary where Key == String, Value == Any {
    func object(_ key: String) -> [String: Any] { self[key] as? [String: Any] ?? [:] }
    func string(_ key: String) -> String? { self[key] as? String }
}
