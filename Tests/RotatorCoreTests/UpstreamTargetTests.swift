import RotatorCore
import Testing

@Suite struct UpstreamTargetTests {
    @Test func parsesHTTPURLs() throws {
        let target = try #require(UpstreamTarget("https://api.anthropic.com/v1"))
        #expect(target.origin == "https://api.anthropic.com")
        #expect(target.baseSegments == ["v1"])
        let local = try #require(UpstreamTarget("http://127.0.0.1:9000"))
        #expect(local.origin == "http://127.0.0.1:9000")
        #expect(local.baseSegments.isEmpty)
    }

    @Test(arguments: ["ftp://x.com", "https://", "not a url", "https://user:pw@x.com", "file:///etc/passwd", "javascript:alert(1)"])
    func refusesOthers(_ text: String) {
        #expect(UpstreamTarget(text) == nil)
    }
}
