import HTTPTypes
import NIOHTTP1
@testable import RotatorProxy
import Testing

@Suite struct HeaderPolicyTests {
    @Test func stripsCredentialsAndHopByHop() {
        let fields: HTTPFields = [
            .authorization: "Bearer proxy-key", HTTPField.Name("X-Proxy-Key")!: "proxy-key", HTTPField.Name("x-api-key")!: "proxy-key",
            HTTPField.Name("x-goog-api-key")!: "proxy-key", .connection: "keep-alive, X-Secret-Hop", HTTPField.Name("X-Secret-Hop")!: "1",
            .transferEncoding: "chunked", .contentLength: "10", HTTPField.Name("Keep-Alive")!: "timeout=5", .te: "trailers",
            HTTPField.Name("anthropic-version")!: "2023-06-01", .contentType: "application/json", .accept: "text/event-stream",
            HTTPField.Name("X-Request-ID")!: "client-id", .cookie: "session=1",
        ]
        let headers = HeaderPolicy.upstreamHeaders(from: fields, requestID: "rid-1", extraRemoved: nil)
        let names = Set(headers.map { $0.name.lowercased() })
        #expect(names == ["anthropic-version", "content-type", "accept", "x-request-id"])
        #expect(headers.first(name: "x-request-id") == "rid-1")
        #expect(!headers.contains { $0.value.contains("proxy-key") })
    }

    @Test func billingSelectionHeadersPassOnlyWhenTheConfigAllows() {
        let fields: HTTPFields = [
            HTTPField.Name("OpenAI-Organization")!: "org-other", HTTPField.Name("OpenAI-Project")!: "proj-other",
            HTTPField.Name("x-goog-user-project")!: "other-project", .accept: "*/*",
        ]
        let dropped = HeaderPolicy.upstreamHeaders(from: fields, requestID: "r", extraRemoved: nil)
        #expect(Set(dropped.map { $0.name.lowercased() }) == ["accept", "x-request-id"])
        let allowed = HeaderPolicy.upstreamHeaders(from: fields, requestID: "r", extraRemoved: nil, forwardBillingHeaders: true)
        #expect(allowed.first(name: "openai-organization") == "org-other")
        #expect(allowed.first(name: "openai-project") == "proj-other")
        #expect(allowed.first(name: "x-goog-user-project") == "other-project")
    }

    @Test func dropsGenericKeyHeader() {
        let fields: HTTPFields = [HTTPField.Name("X-Service-Token")!: "client", .accept: "*/*"]
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
        #expect(fields[.contentType] == "text/event-stream")
        #expect(fields[.contentEncoding] == "gzip")
        #expect(fields[.transferEncoding] == nil)
        #expect(fields[.connection] == nil)
        #expect(fields[.contentLength] == "42")
        #expect(fields[HTTPField.Name("x-ratelimit-remaining-requests")!] == "9")
        #expect(HeaderPolicy.clientHeaders(from: headers, keepContentLength: false)[.contentLength] == nil)
    }
}
