import RotatorCore
@testable import RotatorProxy
import Testing
@testable import UpstreamProviders

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

    /// google-genai 3.x calls `/v1/...` by default: on a Gemini target ending in `/v1beta` that is the version to
    /// call, not a segment below it (`/v1beta/v1/...` is Google's 404). Elsewhere a client never leaves the base.
    @Test func geminiClientsPickTheVersion() throws {
        let gemini = UpstreamTarget("https://generativelanguage.googleapis.com/v1beta")!
        let rest: Substring = "/v1/models/gemini-2.5-flash:generateContent"
        #expect(try UpstreamURLBuilder.buildPath(target: gemini, rest: rest, clientPicksVersion: true)
            == "/v1/models/gemini-2.5-flash:generateContent")
        #expect(try UpstreamURLBuilder.buildPath(target: gemini, rest: "/v1alpha/models", clientPicksVersion: true) == "/v1alpha/models")
        #expect(try UpstreamURLBuilder.buildPath(target: gemini, rest: "/v1beta/models", clientPicksVersion: true) == "/v1beta/models")
        #expect(try UpstreamURLBuilder.buildPath(target: gemini, rest: "/models/m:generateContent", clientPicksVersion: true)
            == "/v1beta/models/m:generateContent")
        #expect(try UpstreamURLBuilder.buildPath(target: gemini, rest: rest) == "/v1beta/v1/models/gemini-2.5-flash:generateContent")
        // Only the first segment, and only in place of a version: deeper versions and unversioned bases stay below.
        #expect(try UpstreamURLBuilder.buildPath(target: gemini, rest: "/models/v1/x", clientPicksVersion: true) == "/v1beta/models/v1/x")
        let proxied = UpstreamTarget("https://gateway.example/google")!
        #expect(try UpstreamURLBuilder.buildPath(target: proxied, rest: rest, clientPicksVersion: true)
            == "/google/v1/models/gemini-2.5-flash:generateContent")
    }

    /// Whatever the client's path says, the host stays the configured one.
    @Test(arguments: ["/@evil.com/", "//evil.com/x", "/http://evil.com/x", "/a/%40evil.com"])
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

    /// Servers that decode `%2F` or `%5C` before routing (or read `\\` as `/`) would see a separator.
    @Test(arguments: [
        "/files/a%2Fb", "/files/a%2fb", "/https:%2F%2Fevil.com", "/%2F%2Fevil.com", "/..%2f..%2fevil.com", "/\\evil.com", "/a\\..\\b",
        "/%5Cevil.com", "/%5c..%5cadmin", "/a%252Fb", "/a%252fb", "/%255C", "/%25%32%46",
    ])
    func refusesEncodedSeparators(rest: String) {
        #expect(throws: UpstreamURLBuilder.Failure.encodedSeparator) {
            try UpstreamURLBuilder.build(target: openRouter, rest: Substring(rest), query: nil)
        }
    }

    /// Dot segments in every disguise: path parameters (`..;`, Tomcat), dots only, mixed-case and double encoding.
    @Test(arguments: [
        "/..;/admin", "/a/..;jsessionid=1/b", "/.;x", "/...", "/%2e%2e;/x", "/%2E%2e", "/%2e.", "/%252e%252e/x", "/%252E%252E%253B/x",
        "/%25252e%25252e", "/a/%2e%2E%3bx/b",
    ])
    func refusesDotSegmentsInDisguise(rest: String) {
        #expect(throws: UpstreamURLBuilder.Failure.traversal) {
            try UpstreamURLBuilder.build(target: openRouter, rest: Substring(rest), query: nil)
        }
    }

    @Test(arguments: ["/a%00b", "/%c0%ae%c0%ae/x", "/a%ff"])
    func refusesNulAndInvalidUTF8(rest: String) {
        #expect(throws: UpstreamURLBuilder.Failure.badEncoding) {
            try UpstreamURLBuilder.build(target: openRouter, rest: Substring(rest), query: nil)
        }
    }

    @Test func ordinaryEncodingStaysData() throws {
        #expect(try UpstreamURLBuilder.build(target: openRouter, rest: "/files/a%20b;v=1/..x/%25", query: nil)
            == "https://openrouter.ai/api/v1/files/a%20b;v=1/..x/%25")
        #expect(try UpstreamURLBuilder.build(target: openRouter, rest: "/files/%E4%BD%A0%3F", query: nil)
            == "https://openrouter.ai/api/v1/files/%E4%BD%A0%3F")
    }

    @Test func queryEditing() {
        #expect(QueryString.removing(["key"], from: "key=secret&alt=sse") == "alt=sse")
        #expect(QueryString.removing(["key"], from: "key=secret") == nil)
        #expect(QueryString.removing(["api_key"], from: "api%5Fkey=s&x=1") == "x=1")
        #expect(QueryString.value(of: "key", in: "alt=sse&key=a%2Bb") == "a+b")
        #expect(QueryString.appending(name: "api_key", value: "a b&c", to: "x=1") == "x=1&api_key=a%20b%26c")
    }
}
