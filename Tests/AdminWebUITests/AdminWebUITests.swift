import AdminWebUI
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import RotatorHTTP
import Testing

@Suite struct AdminWebUITests {
    private func app() -> some ApplicationProtocol {
        let router = Router(context: RotatorRequestContext.self)
        AdminWebUI.register(on: router)
        return Application(router: router)
    }

    private func page() async throws -> String {
        try await app().test(.router) { client in
            try await client.execute(uri: "/", method: .get) { String(buffer: $0.body) }
        }
    }

    @Test(arguments: ["/", "/ui"])
    func servesThePageWithStrictHeaders(path: String) async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(response.headers[.cacheControl] == "no-cache")
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
                let csp = try #require(response.headers[.contentSecurityPolicy])
                for directive in [
                    "default-src 'self'", "script-src 'self' 'unsafe-inline'", "style-src 'self' 'unsafe-inline'",
                    "connect-src 'self'", "frame-ancestors 'none'",
                ] {
                    #expect(csp.contains(directive), "CSP lacks \(directive)")
                }
                let body = String(buffer: response.body)
                #expect(body.hasPrefix("<!doctype html>"))
                #expect(body.contains("id=\"login-form\""), "the real page, not the missing-bundle fallback")
            }
        }
    }

    /// The icon the page links to is served from the same origin (an SVG: no binary blob in the repository).
    @Test(arguments: ["/favicon.svg", "/favicon.ico"])
    func servesTheIcon(path: String) async throws {
        let html = try await page()
        #expect(html.contains(#"<link rel="icon" href="/favicon.svg" type="image/svg+xml">"#))
        try await app().test(.router) { client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/svg+xml")
                #expect(String(buffer: response.body).hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            }
        }
    }

    /// Air-gapped users: nothing may be loaded from elsewhere, and nothing secret may go into a URL.
    @Test func pageIsSelfContained() async throws {
        let html = try await page()
        for forbidden in ["<script src", "<link rel=\"stylesheet\"", "@import", "url(http", "url(//", "src=\"http", "src=\"//", "token="] {
            #expect(!html.contains(forbidden), "page contains \(forbidden)")
        }
    }

    /// Every string the page shows comes from the dictionary, and both languages have every entry.
    @Test func bothLanguagesHaveEveryString() async throws {
        let html = try await page()
        let english = try dictionary(named: "en", in: html)
        let chinese = try dictionary(named: "zh", in: html)
        #expect(english.count > 100)
        #expect(english.subtracting(chinese).sorted() == [], "missing in 中文")
        #expect(chinese.subtracting(english).sorted() == [], "missing in English")

        var used = Set<String>()
        for pattern in [
            // A key never ends in "."; `t("status." + value)` is covered below.
            #"data-i18n="([\w.]*\w)""#, #":\["([\w.]*\w)"\]"#, #"\bt\("([\w.]*\w)""#, #"\btx\([^,()]+(?:\([^()]*\))?, "([\w.]*\w)""#,
            #"\btattr\([^,]+, "[^"]+", "([\w.]*\w)""#, #"\bi18n: "([\w.]*\w)""#, #"showLogin\("([\w.]*\w)""#,
            #"\bsnippetBlock\([^,]+, "([\w.]*\w)""#,
        ] {
            let regex = try NSRegularExpression(pattern: pattern)
            for match in regex.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
                used.insert(String(html[Range(match.range(at: 1), in: html)!]))
            }
        }
        // Keys built from API values.
        for status in ["active", "cooling", "exhausted", "invalid", "disabled"] { used.insert("status.\(status)") }
        for type in ["llm", "generic"] { used.insert("type.\(type)") }
        for format in ["openai_compatible", "anthropic_native", "gemini_native"] { used.insert("format.\(format)") }
        for location in ["header", "query"] { used.insert("loc.\(location)") }
        for column in ["key", "status", "lastHour", "requests", "errors", "lastUsed", "lastError", "actions"] { used.insert("keys.col.\(column)") }
        for outcome in ["ok", "rejected", "rate_limited", "error", "unreachable", "not_checkable"] { used.insert("check.\(outcome)") }
        for mode in ["lightweight", "enterprise"] { used.insert("cluster.mode.\(mode)") }
        for scope in ["node", "fleet"] { used.insert("traffic.scope.\(scope)") }
        #expect(used.count > 60)
        #expect(used.subtracting(english).sorted() == [], "used but not in the dictionary")
    }

    private func dictionary(named name: String, in html: String) throws -> Set<String> {
        let start = try #require(html.range(of: "\n  \(name): {\n"))
        let end = try #require(html.range(of: "\n  },", range: start.upperBound..<html.endIndex))
        let block = String(html[start.upperBound..<end.lowerBound])
        let regex = try NSRegularExpression(pattern: #"^\s+"([\w.]+)": "#, options: .anchorsMatchLines)
        let keys = regex.matches(in: block, range: NSRange(block.startIndex..., in: block)).map {
            String(block[Range($0.range(at: 1), in: block)!])
        }
        #expect(keys.count == Set(keys).count, "duplicate keys in \(name)")
        return Set(keys)
    }
}
