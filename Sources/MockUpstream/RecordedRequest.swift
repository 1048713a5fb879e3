/// One request as the mock received it, so tests can check what the rotator forwarded.
public struct RecordedRequest: Sendable {
    public var method: String
    /// The raw request target, query included (`/v1/chat/completions?x=1`).
    public var path: String
    /// Every header in arrival order, names as sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The key the mock read from the request, if any.
    public var key: String?

    public init(method: String, path: String, headers: [(name: String, value: String)], body: [UInt8], key: String?) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.key = key
    }

    /// First value of a header, matched case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// All values of a header, matched case-insensitively.
    public func headers(named name: String) -> [String] {
        headers.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

extension String {
    fileprivate func caseInsensitiveEquals(_ other: String) -> Bool {
        self.utf8.count == other.utf8.count && self.lowercased() == other.lowercased()
    }
}
