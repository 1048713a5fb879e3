/// The steps both drivers' databases share around their thread pools.
public enum SQLDatabaseOpening {
    /// The error of every call on a closed database.
    public static let closedError = SQLError(.unavailable, "database is closed")

    /// Returns `database` once `prepare` (opening its connections) succeeded; closes it and rethrows otherwise.
    public static func opened<Database: SQLDatabase>(
        _ database: Database, preparedBy prepare: () async throws -> Void
    ) async throws -> Database {
        do {
            try await prepare()
        } catch {
            try? await database.close()
            throw error
        }
        return database
    }

    /// Runs `work` (a job on the database's thread pool). The pool cancels work submitted after `close()` shut
    /// it down: a cancellation the caller did not ask for is reported as `closedError`.
    public static func onPool<T: Sendable>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch is CancellationError where !Task.isCancelled {
            throw closedError
        }
    }
}
