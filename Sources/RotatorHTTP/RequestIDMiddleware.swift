import HTTPTypes
import Hummingbird
import Logging

extension HTTPField.Name {
    public static let requestID = HTTPField.Name("X-Request-ID")!
}

/// Accepts the client's `X-Request-ID` when it is sane, otherwise makes one; returns it on the response
/// and puts it in the logger's metadata. The proxy forwards it upstream.
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = RotatorRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = RequestIDPolicy.acceptable(request.headers[.requestID]) ?? RequestIdentifier.make()
        context.requestID = id
        context.logger[metadataKey: "request_id"] = .string(id)
        var response = try await next(request, context)
        response.headers[.requestID] = id
        return response
    }

}

/// Which client-sent request ids are kept (and forwarded upstream) instead of replaced by a fresh one.
public enum RequestIDPolicy {
    /// 1–128 characters of letters, digits and `-_.:`; anything else could forge log lines.
    public static func acceptable(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count) else { return nil }
        let allowed = value.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F || byte == 0x2E || byte == 0x3A
        }
        return allowed ? value : nil
    }
}
