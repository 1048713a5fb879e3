import NIOHTTP1

/// What the relay does to an answer's body on its way to the client, decided from the route and the answer's head.
///
/// A generic config's every answer is scrubbed of the key (an echo endpoint returns whatever it got); an LLM config's
/// answers are scrubbed unless they are 2xx (errors quote the request, redirects repeat the URL with the key). A body
/// that is scrubbed (or converted) must be read as the client would: a `gzip` or `deflate` one is decoded first, and
/// one in any other encoding is not relayed at all (it cannot be checked).
struct AnswerBodyPlan: Sendable, Equatable {
    enum Coding: Sendable, Equatable {
        /// Relayed as it comes (identity, or a coding nobody needs to read).
        case asIs
        /// `gzip` / `deflate`: decoded, and the client gets identity bytes.
        case inflate
        /// An encoding the relay cannot read on a body it must read (`br`, `zstd`, stacked codings).
        case unreadable(String)
    }

    /// The body is scrubbed of the key.
    var scrubs: Bool
    var coding: Coding

    init(route: ProxyRouteKind, status: Int, headers: HTTPHeaders, converts: Bool) {
        scrubs = route == .generic || !(200..<300).contains(status)
        guard scrubs || converts, let encoding = Self.contentEncoding(headers) else {
            coding = .asIs
            return
        }
        switch encoding {
        case "identity": coding = .asIs
        case "gzip", "x-gzip", "deflate": coding = .inflate
        default: coding = .unreadable(String(encoding.prefix(40)))
        }
    }

    /// The answer's head as the client sees it once the body is decoded: its encoding and length are no longer true.
    func clientFacing(_ headers: HTTPHeaders) -> HTTPHeaders {
        guard coding == .inflate else { return headers }
        var headers = headers
        headers.remove(name: "content-encoding")
        headers.remove(name: "content-length")
        return headers
    }

    /// The message of the 502 a client gets instead of a body that could not be checked for keys.
    static func unreadableMessage(_ encoding: String) -> String {
        "The upstream answered with Content-Encoding '\(encoding)', which this proxy cannot check for keys; "
            + "it asks for identity (and decodes gzip and deflate): configure the upstream to honour Accept-Encoding."
    }

    /// Nil for none or `identity`; the lower-cased, trimmed value otherwise (`gzip, br` stays whole: unreadable).
    private static func contentEncoding(_ headers: HTTPHeaders) -> String? {
        let values = headers["content-encoding"]
        guard !values.isEmpty else { return nil }
        let joined = values.joined(separator: ",").lowercased()
        let codings = joined.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty && $0 != "identity" }
        guard !codings.isEmpty else { return nil }
        return codings.joined(separator: ", ")
    }
}
