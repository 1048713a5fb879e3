import NIOHTTP1
@testable import RotatorProxy
import Testing

@Suite struct HeaderPolicyTests {
    @Test func stripsCredentialsAndHopByHop() {
        let fields = HTTPHeaders([
            ("Authorization", "Bearer proxy-key"), ("X-Proxy-Key", "proxy-key"), ("x-api-key", "proxy-key"),
            ("x-goog-api-key", "proxy-key"), ("Connection", "keep-alive, X-Secret-Hop"), ("X-Secret-Hop", "1"),
            ("Transfer-Encoding", "chunked"), ("Content-Length", "10"), ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
            ("anthropic-version", "2023-06-01"), ("Content-Type", "application/json"), ("Accept", "text/event-stream"),
            ("X-Request-ID", "client-id"), ("Cookie", "session=1"), ("Host", "client.example"),
        ])
        let headers = HeaderPolicy.upstreamHeaders(from: fields, requestID: "rid-1", extraRemoved: nil)
        let names = Set(headers.map { $0.name.lowercased() })
        #expect(names == ["anthropic-version", "content-type", "accept", "x-request-id", "accept-encoding"])
        #expect(headers.first(name: "x-request-id") == "rid-1")
        #expect(!headers.contains { $0.value.contains("proxy-key") })
    }

    @Test func billingSelectionHeadersPassOnlyWhenTheConfigAllows() {
        let fields = HTTPHeaders([
            ("OpenAI-Organization", "org-other"), ("OpenAI-Project", "proj-other"), ("x-goog-user-project", "other-project"), ("Accept", "*/*"),
        ])
        let dropped = HeaderPolicy.upstreamHeaders(from: fields, requestID: "r", extraRemoved: nil)
        #expect(Set(dropped.map { $0.name.lowercased() }) == ["accept", "x-request-id", "accept-encoding"])
        let allowed = HeaderPolicy.upstreamHeaders(from: fields, requestID: "r", extraRemoved: nil, forwardBillingHeaders: true)
        #expect(allowed.first(name: "openai-organization") == "org-other")
        #expect(allowed.first(name: "openai-project") == "proj-other")
        #expect(allowed.first(name: "x-goog-user-project") == "other-project")
    }

    /// Fails on the code before issue 16: the client's `gzip` went up, and a compressed error body passed unscrubbed.
    @Test func upstreamsAreAskedForIdentityBytes() {
        let fields = HTTPHeaders([("Accept-Encoding", "gzip, deflate, br"), ("accept-encoding", "zstd")])
        let headers = HeaderPolicy.upstreamHeaders(from: fields, requestID: "r", extraRemoved: nil)
        #expect(headers["accept-encoding"] == ["identity"])
    }

    @Test func dropsGenericKeyHeader() {
        let fields = HTTPHeaders([("X-Service-Token", "client"), ("Accept", "*/*")])
        let headers = HeaderPolicy.upstreamHeaders(from: fields, requestID: "r", extraRemoved: "x-service-token")
        #expect(headers.first(name: "x-service-token") == nil)
    }

    @Test func responseKeepsEndToEndHeaders() {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Content-Encoding", value: "gzip")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Content-Length", value: "42")
        headers.add(name: "x-ratelimit-remaining-requests", value: "9")
        let fields = HeaderPolicy.clientHeaders(from: headers, keepContentLength: true)
        #expect(fields.first(name: "content-type") == "text/event-stream")
        #expect(fields.first(name: "content-encoding") == "gzip")
        #expect(fields.first(name: "transfer-encoding") == nil)
        #expect(fields.first(name: "connection") == nil)
        #expect(fields.first(name: "content-length") == "42")
        #expect(fields.first(name: "x-ratelimit-remaining-requests") == "9")
        #expect(HeaderPolicy.clientHeaders(from: headers, keepContentLength: false).first(name: "content-length") == nil)
    }
}
