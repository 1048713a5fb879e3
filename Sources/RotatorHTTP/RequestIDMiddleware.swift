import HTTPTypes
import Hummingbird
import Logging
import RequestIdentity

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
