import Hummingbird
import RotatorHTTP
import RotatorStore

/// The admin routes' errors as HTTP answers, mapped in one place: store failures (conflicts 409, missing 404, an
/// unreachable database 503) and input that breaks a rule (422, or 409 for a conflict with what is stored). Handlers
/// just throw them; the router's `ErrorMiddleware` renders the JSON answer.
struct AdminErrorMiddleware: RouterMiddleware {
    typealias Context = RotatorRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as StoreError {
            throw APIError(error)
        } catch let error as ValidationError {
            throw APIError(error)
        }
    }
}

extension APIError {
    init(_ error: StoreError) {
        switch error {
        case .conflict(let message): self = .conflict(message)
        case .notFound(let message): self = .notFound(message)
        case .unavailable(let message): self = .unavailable("the database is unavailable, nothing was changed; retry shortly (\(message))")
        case .corrupt(let message): self.init(.internalServerError, message)
        }
    }

    init(_ error: ValidationError) {
        self = error.isConflict ? .conflict(error.message) : .unprocessable(error.message)
    }
}
