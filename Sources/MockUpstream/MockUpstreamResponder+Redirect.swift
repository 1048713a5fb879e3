import HTTPTypes
import Hummingbird

/// The redirects web frameworks answer before any handler (a trailing slash, a moved route), repeating the whole
/// request URL — query and any key in it included — in `Location` and in the body: `x-mock-redirect: 308` answers as
/// werkzeug (Flask) does, `302` as Express does.
extension MockUpstreamResponder {
    static func redirect(_ request: Request) -> Response? {
        guard let asked = request.headers[.xMockRedirect] else { return nil }
        let target = request.uri.string
        switch asked {
        case "308":
            // werkzeug.utils.redirect
            let escaped = target.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            let body = """
                <!doctype html>
                <html lang=en>
                <title>Redirecting...</title>
                <h1>Redirecting...</h1>
                <p>You should be redirected automatically to the target URL: <a href="\(escaped)">\(escaped)</a>. If not, click the link.

                """
            return Response(status: .permanentRedirect, headers: [.contentType: "text/html; charset=utf-8", .location: target],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        case "302":
            // express res.redirect, for a client that does not accept HTML
            return Response(status: .found, headers: [.contentType: "text/plain; charset=utf-8", .location: target, .vary: "Accept"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "Found. Redirecting to \(target)")))
        default:
            return nil
        }
    }
}
