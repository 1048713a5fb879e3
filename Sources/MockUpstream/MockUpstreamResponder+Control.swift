import Foundation
import Hummingbird

/// `/__mock/...`: scripting the state over HTTP, for a mock running as its own process. Needs no key,
/// is neither counted nor recorded.
extension MockUpstreamResponder {
    func control(_ request: Request) async throws -> Response {
        let path = request.uri.path.dropFirst("/__mock/".count)
        switch (request.method, path) {
        case (.get, "counters"):
            return try Self.encoded(state.counters())
        case (.get, "streams"):
            return try Self.encoded(state.openStreams())
        case (.get, "requests"):
            return try Self.encoded(state.recordedRequests.map(RecordedRequestJSON.init))
        case (.post, "reset"):
            state.reset()
            return Self.json(200, #"{"reset":true}"#)
        case (.post, "storm"):
            guard let text = request.uri.queryParameters["seconds"], let seconds = Double(text), seconds.isFinite else {
                throw MockControlError.badRequest("storm needs ?seconds=N (0 ends it)")
            }
            state.startStorm(seconds: seconds)
            return Self.json(200, #"{"storm_seconds":\#(max(0, seconds))}"#)
        case (.get, "settings"):
            return try Self.encoded(state.settings)
        case (.put, "settings"):
            let settings = try await Self.decode(MockUpstreamSettings.self, from: request)
            state.updateSettings { $0 = settings }
            return try Self.encoded(settings)
        case (.put, "default-profile"):
            let profile = try await Self.decode(KeyProfile.self, from: request)
            state.setDefaultProfile(profile)
            return try Self.encoded(profile)
        case (_, let rest) where rest.hasPrefix("profiles/"):
            let encodedKey = String(rest.dropFirst("profiles/".count))
            guard let key = encodedKey.removingPercentEncoding, !key.isEmpty else {
                throw MockControlError.badRequest("profiles/{key} needs a key")
            }
            switch request.method {
            case .get:
                return try Self.encoded(state.profile(forKey: key))
            case .put:
                let profile = try await Self.decode(KeyProfile.self, from: request)
                state.setProfile(profile, forKey: key)
                return try Self.encoded(profile)
            case .delete:
                state.setProfile(nil, forKey: key)
                return Self.json(200, #"{"deleted":true}"#)
            default:
                throw MockControlError.notFound
            }
        default:
            throw MockControlError.notFound
        }
    }

    private static func encoded(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return json(200, String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    private static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        var request = request
        guard let body = try? await request.collectBody(upTo: 1024 * 1024) else {
            throw MockControlError(status: 413, message: "control bodies are limited to 1 MiB")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw MockControlError.badRequest("body is not a valid \(T.self): \(error)")
        }
    }
}

/// `GET /__mock/requests` entry: headers as `[name, value]` pairs to keep order and repeats, body as text.
private struct RecordedRequestJSON: Encodable {
    var method: String
    var path: String
    var headers: [[String]]
    var body: String
    var key: String?

    init(_ request: RecordedRequest) {
        method = request.method
        path = request.path
        headers = request.headers.map { [$0.name, $0.value] }
        body = request.bodyText
        key = request.key
    }
}
