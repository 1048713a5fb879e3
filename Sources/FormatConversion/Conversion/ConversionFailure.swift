/// A client request that cannot be converted: malformed JSON, a missing required field, a wrong type.
/// The caller answers it with `status` in the client's error shape (`ClientWireFormat.errorBody`).
public struct ConversionFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(status: Int = 400, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }

    static func invalidJSON(_ failure: JSONParser.Failure) -> ConversionFailure {
        ConversionFailure("The request body is not valid JSON (\(failure.description)).")
    }

    static func field(_ name: String, _ problem: String) -> ConversionFailure {
        ConversionFailure("Invalid request: '\(name)' \(problem).")
    }
}
