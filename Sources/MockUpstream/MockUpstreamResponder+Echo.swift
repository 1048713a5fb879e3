import Foundation
import HTTPTypes
import Hummingbird

/// A generic REST upstream's echo endpoint (`…/echo`, any method, TRACE included): everything the request carried —
/// method, URL with query, every header, the body — back in a 200, as httpbin-style services do. A test asks for more
/// copies of it with `x-mock-echo-as` (comma-separated, or `all`): `base64`, `base64url`, `unicode` (every character
/// `\u`-escaped), `percent`, `percent-lower` (every byte %-encoded), `basic` (`Basic base64(user:key)`) and
/// `header-name` (a response header whose name holds the key). `x-mock-chunk-bytes: N` writes the body N bytes at a
/// time (`x-mock-chunk-delay-ms` apart, chunked, no length), so a relay reads it in many parts. `x-mock-echo-status: 400` answers the echo
/// with that status (an error that quotes the request, as many REST services write them); `x-mock-echo-key-at: N`
/// puts the key itself at byte N of the body, after N bytes of embedding-like JSON (a key across a relay's cut, or a
/// large answer to measure a relay with).
extension MockUpstreamResponder {
    static func fullEcho(_ request: Request, body: ByteBuffer, key: String) -> Response {
        let headerObject = request.headers.map { "\(JSONText.quote($0.name.rawName)):\(JSONText.quote($0.value))" }.joined(separator: ",")
        let url = request.uri.string
        let core = #"{"method":\#(JSONText.quote(request.method.rawValue)),"url":\#(JSONText.quote(url)),"headers":{\#(headerObject)},"#
            + #""body":\#(JSONText.quote(String(decoding: body.readableBytesView, as: UTF8.self)))}"#
        let asked = Set((request.headers[.xMockEchoAs] ?? "").lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let all = asked.contains("all")
        var copies: [String] = []
        let bytes = Array(core.utf8)
        if all || asked.contains("base64") { copies.append(#""base64":"\#(Data(bytes).base64EncodedString())""#) }
        if all || asked.contains("base64url") {
            let url = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            copies.append(#""base64url":"\#(url)""#)
        }
        if all || asked.contains("basic") { copies.append(#""basic":"Basic \#(Data(Array(("user:" + key).utf8)).base64EncodedString())""#) }
        if all || asked.contains("unicode") {
            copies.append(#""unicode":"\#(core.utf16.map { "\\u" + hex($0, width: 4) }.joined())""#)
        }
        if all || asked.contains("percent") { copies.append(#""percent":"\#(bytes.map { "%" + hex(UInt16($0), width: 2).uppercased() }.joined())""#) }
        if all || asked.contains("percent-lower") { copies.append(#""percent_lower":"\#(bytes.map { "%" + hex(UInt16($0), width: 2) }.joined())""#) }
        var text = copies.isEmpty ? core : #"{"echo":\#(core),"as":{\#(copies.joined(separator: ","))}}"#
        if let offset = request.headers[.xMockEchoKeyAt].flatMap(Int.init), (0...(64 << 20)).contains(offset) {
            text = Self.padding(offset) + key + " " + text
        }
        let status = request.headers[.xMockEchoStatus].flatMap(Int.init).map(Self.status) ?? .ok
        var headers: HTTPFields = [.contentType: "application/json"]
        if all || asked.contains("header-name"), let name = HTTPField.Name("x-echo-\(key)") { headers[name] = "1" }
        guard let size = request.headers[.xMockChunkBytes].flatMap(Int.init), size > 0 else { return json(Int(status.code), text, headers: headers) }
        let whole = Array(text.utf8)
        let units = stride(from: 0, to: whole.count, by: size).map { Array(whole[$0..<min($0 + size, whole.count)]) }
        let delay = Duration.milliseconds(request.headers[.xMockChunkDelay].flatMap(Int.init) ?? 0)
        return Response(status: status, headers: headers, body: EventStream.body(bytes: units, delay: delay))
    }

    private static let filler = Array(#"{"object":"embedding","index":7,"embedding":[0.0023064255,-0.009327292,0.015797347]},"#.utf8)

    private static func padding(_ count: Int) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count { bytes += filler.prefix(count - bytes.count) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hex(_ value: UInt16, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
