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
        // Client keys: the status and the limits as the admin API names them.
        for status in ["active", "disabled", "expired"] { used.insert("ck.status.\(status)") }
        for limit in ["rpm", "tpm", "max_concurrent", "daily_requests", "monthly_requests", "daily_tokens", "monthly_tokens"] {
            used.insert("ck.limit.\(limit)")
        }
        #expect(used.count > 60)
        #expect(used.subtracting(english).sorted() == [], "used but not in the dictionary")
    }

    /// The Client keys tab: its tab button and pane, the dialogs for create/edit, rotate and the secret shown once
    /// (with its warning and a Copy button), and the admin routes it calls, exactly as the contract names them.
    @Test func hasTheClientKeysTab() async throws {
        let html = try await page()
        for element in [
            #"data-view="clientkeys""#, #"id="clientkeys-pane""#, #"id="ck-dialog""#, #"id="ck-rotate-dialog""#,
            #"id="ck-secret-dialog""#, #"id="ck-secret-warning""#, #"id="ck-form-msg""#, #"id="ck-rotate-msg""#,
        ] {
            #expect(html.contains(element), "page lacks \(element)")
        }
        for limit in ["rpm", "tpm", "max_concurrent", "daily_requests", "monthly_requests", "daily_tokens", "monthly_tokens"] {
            #expect(html.contains(#"id="ck-l-\#(limit)" name="\#(limit)""#), "no form field for \(limit)")
        }
        for call in [
            #"api("GET", "/admin/client-keys?""#, #"api("POST", "/admin/client-keys","#, #"api("PUT", "/admin/client-keys/""#,
            #"api("DELETE", "/admin/client-keys/""#, #"/rotate", text ? { grace_seconds: grace } : {})"#,
            #"api("GET", "/admin/usage?""#, #"group_by: "day", client_key: String(id)"#,
        ] {
            #expect(html.contains(call), "page does not call \(call)")
        }
    }

    /// The page remembers only the language in localStorage and only the admin token in sessionStorage: a client
    /// key's secret (or anything else) is never written to either.
    @Test func storesNothingButTheLanguageAndTheToken() async throws {
        let html = try await page()
        for (storage, allowed) in [("localStorage", "LANG_KEY"), ("sessionStorage", "TOKEN_KEY")] {
            let writes = html.components(separatedBy: "\(storage).setItem(").dropFirst()
            #expect(!writes.isEmpty)
            for write in writes {
                #expect(write.hasPrefix(allowed + ","), "\(storage) gets \(write.prefix(40))")
            }
            #expect(!html.contains("\(storage)["), "\(storage) written by index")
        }
    }

    /// No secret is written into the page: no proxy key, client key or provider key longer than a placeholder.
    @Test func holdsNoSecret() async throws {
        let html = try await page()
        let regex = try NSRegularExpression(pattern: #"\b(?:rk|sk|sk-ant)-[A-Za-z0-9_\-]{16,}"#)
        let found = regex.matches(in: html, range: NSRange(html.startIndex..., in: html)).map { String(html[Range($0.range, in: html)!]) }
        #expect(found == [])
    }

    /// The page polls no more often than it did: its timers are the 1 s countdown tick (and the login block's), the
    /// 15 s relative-time pass and the one 5 s refresh, which the Client keys tab shares; only that one calls the API.
    @Test func pollsNoMoreOftenThanEveryFiveSeconds() async throws {
        let html = try await page()
        #expect(html.contains("const REFRESH_MS = 5000;"))
        var delays: [String] = []
        var apiCallingDelays: [String] = []
        var rest = Substring(html)
        while let start = rest.range(of: "setInterval(") {
            // The call's arguments, to its closing parenthesis; the delay is what follows the last top-level comma.
            var depth = 1
            var index = start.upperBound
            var lastComma = index
            while depth > 0, index < rest.endIndex {
                switch rest[index] {
                case "(", "{", "[": depth += 1
                case ")", "}", "]": depth -= 1
                case "," where depth == 1: lastComma = rest.index(after: index)
                default: break
                }
                index = rest.index(after: index)
            }
            let arguments = rest[start.upperBound..<rest.index(before: index)]
            let delay = rest[lastComma..<rest.index(before: index)].trimmingCharacters(in: .whitespacesAndNewlines)
            delays.append(delay)
            if arguments.contains("api(") || arguments.contains("load") || arguments.contains("refresh") { apiCallingDelays.append(delay) }
            rest = rest[index...]
        }
        #expect(delays.sorted() == ["1000", "1000", "15000", "REFRESH_MS"])
        #expect(apiCallingDelays == ["REFRESH_MS"])
        #expect(html.contains(#"if (S.view === "clientkeys") loadClientKeys();"#), "the tab refreshes on the shared 5 s timer")
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
