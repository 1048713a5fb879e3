import RotatorCore
@testable import RotatorProxy
import Testing

@Suite struct UpstreamURLBuilderTests {
    let openRouter = UpstreamTarget("https://openrouter.ai/api/v1")!

    @Test func collapsesDuplicatedVersion() throws {
        #expect(try UpstreamURLBuilder.build(target: openRouter, rest: "/v1/chat/completions", query: nil)
            == "https://openrouter.ai/api/v1/chat/completions")
        #expect(try UpstreamURLBuilder.build(target: openRouter, rest: "/chat/completions", query: nil)
            == "https://openrouter.ai/api/v1/chat/completions")
    }

    @Test func keepsDifferentVersionsAndQueries() throws {
        let gemini = UpstreamTarget("https://generativelanguage.googleapis.com")!
        #expect(try UpstreamURLBuilder.build(target: gemini, rest: "/v1beta/models/gemini-pro:generateContent", query: "alt=sse")
            == "https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent?alt=sse")
        let withPort = UpstreamTarget("http://127.0.0.1:9000/base?fixed=1")!
        #expect(try UpstreamURLBuilder.build(target: withPort, rest: "/x/", query: "a=b") == "http://127.0.0.1:9000/base/x/?fixed=1&a=b")
        #expect(try UpstreamURLBuilder.build(target: withPort, rest: "", query: nil) == "http://127.0.0.1:9000/base?fixed=1")
    }

    /// Whatever the client's path says, the host stays the configured one.
    @Test(arguments: [
        "/@evil.com/", "//evil.com/x", "/http://evil.com/x", "/https:%2F%2Fevil.com", "/%2F%2Fevil.com", "/..%2f..%2fevil.com",
        "/a/%40evil.com", "/\\evil.com", "/%5Cevil.com",
    ])
    func neverChangesTheHost(rest: String) throws {
        let url = try UpstreamURLBuilder.build(target: openRouter, rest: Substring(rest), query: nil)
        #expect(url.hasPrefix("https://openrouter.ai/api/v1/"), "\(url)")
        // Parse it the way an HTTP client would and check the authority.
        let afterScheme = url.dropFirst("https://".count)
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        #expect(authority == "openrouter.ai", "\(url)")
    }

    @Test(arguments: ["/..", "/a/../b", "/%2e%2e/x", "/.", "/a/%2E/b"])
    func refusesDotSegments(rest: String) {
        #expect(throws: UpstreamURLBuilder.Failure.traversal) {
            try UpstreamURLBuilder.build(target: openRouter, rest: Substring(rest), query: nil)
        }
    }

    @Test func refusesBrokenEncoding() {
        #expect(throws: UpstreamURLBuilder.Failure.badEncoding) {
            try UpstreamURLBuilder.build(target: openRouter, rest: "/a%zz", query: nil)
        }
    }

    @Test func encodedSlashStaysData() throws {
        #expect(try UpstreamURLBuilder.build(target: openRouter, rest: "/files/a%2Fb", query: nil) == "https://openrouter.ai/api/v1/files/a%2Fb")
    }

    @Test func queryEditing() {
        #expect(QueryString.removing(["key"], from: "key=secret&alt=sse") == "alt=sse")
        #expect(QueryString.removing(["key"], from: "key=secret") == nil)
        #expect(QueryString.removing(["api_key"], from: "api%5Fkey=s&x=1") == "x=1")
        #expect(QueryString.value(of: "key", in: "alt=sse&key=a%2Bb") == "a+b")
        #expect(QueryString.appending(name: "api_key", value: "a b&c", to: "x=1") == "x=1&api_key=a%20b%26c")
    }
}
