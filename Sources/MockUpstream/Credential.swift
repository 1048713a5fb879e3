import HTTPTypes
import Hummingbird

/// The key a request carries and where it was found: the first of `Authorization: Bearer`, `x-api-key`,
/// `x-goog-api-key`, `?key=`, then the settings' extra header and query names.
struct Credential: Sendable, Equatable {
    enum Source: Sendable, Equatable {
        case bearer
        case anthropicHeader
        case googleHeader
        case googleQuery
        case header(String)
        case query(String)
    }

    var key: String
    var source: Source

    init(key: String, source: Source) {
        self.key = key
        self.source = source
    }

    init?(request: Request, settings: MockUpstreamSettings) {
        let headers = request.headers
        if let authorization = headers[.authorization], let token = Self.bearerToken(authorization) {
            self.init(key: token, source: .bearer)
        } else if let value = Self.nonEmpty(headers[.xAPIKey]) {
            self.init(key: value, source: .anthropicHeader)
        } else if let value = Self.nonEmpty(headers[.xGoogAPIKey]) {
            self.init(key: value, source: .googleHeader)
        } else {
            // Query parsing allocates, so it waits until no header carried a key.
            let query = request.uri.queryParameters
            if let value = Self.nonEmpty(query["key"].map(String.init)) {
                self.init(key: value, source: .googleQuery)
                return
            }
            for name in settings.keyHeaderNames {
                if let field = HTTPField.Name(name), let value = Self.nonEmpty(headers[field]) {
                    self.init(key: value, source: .header(name))
                    return
                }
            }
            for name in settings.keyQueryNames {
                if let value = Self.nonEmpty(query[Substring(name)].map(String.init)) {
                    self.init(key: value, source: .query(name))
                    return
                }
            }
            return nil
        }
    }

    /// The last four characters, enough for a test to tell keys apart without echoing a whole key.
    var suffix: String { String(key.suffix(4)) }

    /// `Bearer K`, scheme matched case-insensitively; other schemes (Basic...) carry no key for us.
    private static func bearerToken(_ value: String) -> String? {
        guard value.prefix(7).lowercased() == "bearer " else { return nil }
        return nonEmpty(String(value.dropFirst(7).drop { $0 == " " }))
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}
