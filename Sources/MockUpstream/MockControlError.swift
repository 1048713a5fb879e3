/// A refused control request (`/__mock/...`), answered as `{"error": message}` with `status`.
struct MockControlError: Error, Sendable {
    var status: Int
    var message: String

    static func badRequest(_ message: String) -> Self { Self(status: 400, message: message) }
    static let notFound = Self(status: 404, message: "no such control endpoint")
}
