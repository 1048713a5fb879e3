/// A database the repository talks to without knowing which one it is.
///
/// Drivers run blocking C calls on their own thread pool, never on the caller's executor or an event
/// loop: `withConnection` suspends the caller until a connection is free and the body has run.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }

    /// Lends a connection to `body` on a driver thread; the connection must not escape the body.
    @discardableResult
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T

    /// Closes every connection and stops the driver's threads. Later calls fail with `.unavailable`.
    func close() async throws
}
