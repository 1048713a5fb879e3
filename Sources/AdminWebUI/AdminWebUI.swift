import Foundation
import HTTPTypes
import Hummingbird
import RotatorHTTP

/// The embedded bilingual admin page: one self-contained HTML file (inline CSS and JavaScript) that talks to
/// the admin JSON API on the same origin. Served at `GET /` and `GET /ui`.
public enum AdminWebUI {
    /// Registers `GET /`, `GET /ui` and the page's icon (`/favicon.svg`, also answered at `/favicon.ico`).
    public static func register(on router: Router<RotatorRequestContext>) {
        router.get("/") { _, _ in pageResponse() }
        router.get("/ui") { _, _ in pageResponse() }
        router.get("/favicon.svg") { _, _ in iconResponse() }
        router.get("/favicon.ico") { _, _ in iconResponse() }
    }

    static func iconResponse() -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "image/svg+xml", .cacheControl: "max-age=86400", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: icon)
        )
    }

    static let icon: ByteBuffer = resource("favicon", "svg").map { ByteBuffer(bytes: $0) } ?? ByteBuffer(string: "<svg xmlns=\"http://www.w3.org/2000/svg\"/>")

    private static func resource(_ name: String, _ ext: String) -> Data? {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Resources")
            ?? Bundle.module.url(forResource: name, withExtension: ext) else { return nil }
        return try? Data(contentsOf: url)
    }

    /// The page's answer: the same bytes every time, with headers that keep it from being framed, sniffed or
    /// talking to any origin but this one.
    static func pageResponse() -> Response {
        Response(status: .ok, headers: headers, body: .init(byteBuffer: page))
    }

    static let contentSecurityPolicy = [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ].joined(separator: "; ")

    static let headers: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .cacheControl: "no-cache",
        .contentSecurityPolicy: contentSecurityPolicy,
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
    ]

    /// Read from the module's resource bundle once, at first use.
    static let page: ByteBuffer = {
        if let data = resource("index", "html") {
            return ByteBuffer(bytes: data)
        }
        // Only a broken install gets here; say so instead of serving an empty page.
        return ByteBuffer(string: "<!doctype html><meta charset=utf-8><title>API Key Rotator</title>"
            + "<p>The admin page is missing from this build (AdminWebUI resources). The admin API at /admin still works.</p>")
    }()
}
