import FormatConversion
import Foundation
import NIOCore
import NIOHTTP1
import RotatorCore
import UpstreamProviders

/// One request of a config whose clients speak another format than its upstream (`output_format` ≠ `api_format`):
/// what the client's path asks for, the converted request, and the conversion of its answer. Pass-through configs
/// never build one, so their bytes stay untouched and their path costs nothing more.
struct ProxyConversion: Sendable {
    enum Call: Sendable, Equatable {
        case chat(ChatCall)
        case listModels
    }

    let pair: FormatPair
    let models: ModelMapping
    let call: Call
    /// Set once the client's body is converted (chat calls).
    private(set) var converted: ConvertedRequest?
    /// The streamed answer's conversion, from its head to its end.
    private var stream: StreamConversion?

    /// The conversion a config asks for, or nil when its requests pass through: `output_format` none, a generic
    /// route, or both sides the same wire format with no model map (bytes relay untouched).
    static func pair(for config: ProxyConfig, route: ProxyRouteKind) -> FormatPair? {
        guard route == .llm, let pair = config.formatPair else { return nil }
        if pair.isSameWireFormat, config.modelMapping.isIdentity { return nil }
        return pair
    }

    init(pair: FormatPair, models: ModelMapping, call: Call) {
        self.pair = pair
        self.models = models
        self.call = call
    }

    /// Whether the upstream request asks for a stream (its answer is converted event by event).
    var streams: Bool { converted?.upstream.streams ?? false }

    /// The upstream request target for `path` (from the conversion, query included) under the config's base URL;
    /// the client's own query never goes up (it may hold its proxy key).
    static func upstreamTarget(_ target: UpstreamTarget, path: String) -> (path: String, query: String?) {
        let mark = path.firstIndex(of: "?")
        let joined = UpstreamRequest.join(baseSegments: target.baseSegments, path: String(path[..<(mark ?? path.endIndex)]))
        let queries = [target.baseQuery, mark.map { String(path[path.index(after: $0)...]) }].compactMap { $0 }.filter { !$0.isEmpty }
        return (joined, queries.isEmpty ? nil : queries.joined(separator: "&"))
    }

    /// Converts the client's chat body once, before any attempt. Nil means forward `upstream`; an answer is the 400
    /// the client gets in its own error shape.
    mutating func convertRequest(_ body: ByteBuffer) -> ClientAnswer? {
        guard case .chat(let chatCall) = call else { return nil }
        switch RequestConversion(pair: pair, models: models).convert(body.readableBytesView, call: chatCall, created: Self.now) {
        case .reject(let answer):
            return answer
        case .forward(let request):
            converted = request
            return nil
        }
    }

    /// Headers for the upstream: the client's (already without credentials), minus what only made sense in the
    /// client's format, plus what the upstream's format needs (`anthropic-version`).
    func upstreamHeaders(_ headers: inout HTTPHeaders) {
        let upstream = UpstreamDialect(format: pair.upstream)
        for other in UpstreamDialect.allCases where other != upstream {
            for name in other.provider.ownHeaders { headers.remove(name: name) }
        }
        for (name, value) in converted?.upstream.headers ?? [:] { headers.replaceOrAdd(name: name, value: value) }
        // A model list has no converted request; a version header goes on every call.
        if call == .listModels, let version = upstream.provider.versionHeader { headers.replaceOrAdd(name: version.name, value: version.value) }
    }

    /// How the relay reads an answer of a converted request: a 2xx stream event by event, anything else whole
    /// (judged on the upstream's raw status and body, then converted in `convertWhole`).
    var reading: ExchangeStateMachine.ConversionReading { streams ? .streams : .whole }

    /// An answer read whole (success or error) in the client's format, with a faithful status and `Retry-After`.
    func convertWhole(status: Int, headers: HTTPHeaders, body: ByteBuffer) -> ClientAnswer {
        let retryAfter = headers.first(name: "retry-after")
        let conversion = ResponseConversion(pair: pair)
        switch call {
        case .listModels:
            return conversion.convertModels(status: status, body: body.readableBytesView, retryAfter: retryAfter, models: models)
        case .chat:
            guard streams, (200..<300).contains(status), let options = converted?.streamOptions else {
                return conversion.convert(status: status, body: body.readableBytesView, retryAfter: retryAfter, created: Self.now)
            }
            // A stream that was read whole (a config override made its status worth judging): converted all at once.
            var stream = StreamConversion(pair: pair, options: options)
            let bytes = stream.feed(body.readableBytesView) + stream.finish()
            return ClientAnswer(status: status, body: bytes, usage: stream.usage)
        }
    }

    // MARK: Streams

    /// The client's `Content-Type` for a converted stream; starts its conversion.
    mutating func startStream() -> String {
        let conversion = StreamConversion(pair: pair, options: converted?.streamOptions ?? ClientStreamOptions(created: Self.now))
        stream = conversion
        return conversion.contentType
    }

    /// One upstream body part in, the client's bytes to write now out (often none until an event is complete).
    mutating func feed(_ part: ByteBuffer) -> [UInt8] {
        stream?.feed(part.readableBytesView) ?? []
    }

    /// The upstream's body ended: the client's closing events.
    mutating func finishStream() -> [UInt8] {
        stream?.finish() ?? []
    }

    /// Tokens the converted answer reported (streams: once it ended).
    var streamUsage: TokenUsage? { stream?.usage }

    private static var now: Int { Int(Date().timeIntervalSince1970) }
}
