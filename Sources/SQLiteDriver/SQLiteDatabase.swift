import NIOPosix
import RotatorSQL
import Synchronization

/// A SQLite database file (or `:memory:`) behind the driver protocol.
///
/// One connection, guarded by a lock and used only on this database's own one-thread pool: SQLite's C calls
/// block (disk I/O, waiting for another process's lock), so they never run on the caller's executor or an
/// event loop. One writer is all SQLite allows anyway; WAL keeps other processes' readers unblocked.
public final class SQLiteDatabase: SQLDatabase {
    public struct Configuration: Sendable {
        /// How long a statement waits for another process's lock before failing with `.busy`.
        public var busyTimeout: Duration
        public var statementCacheCapacity: Int

        public init(busyTimeout: Duration = .seconds(5), statementCacheCapacity: Int = 64) {
            self.busyTimeout = busyTimeout
            self.statementCacheCapacity = statementCacheCapacity
        }
    }

    /// A private database that lives as long as this object (for tests).
    public static let inMemory = ":memory:"

    public let path: String
    public var dialect: SQLDialect { .sqlite }

    private let threadPool: NIOThreadPool
    /// `nil` before opening and after `close()`. Mutex makes this class Sendable without `@unchecked`.
    private let connection = Mutex<SQLiteConnection?>(nil)

    private init(path: String, threadPool: NIOThreadPool) {
        self.path = path
        self.threadPool = threadPool
    }

    deinit {
        // A safety net for a database dropped without `close()`: no work can be in flight here,
        // since queued work holds a reference to `self`.
        connection.withLock { $0?.close() }
        threadPool.shutdownGracefully { _ in }
    }

    /// Opens (creating if needed) the database at `path`. A new file gets mode 0600, a new directory 0700.
    public static func open(path: String, configuration: Configuration = Configuration()) async throws -> SQLiteDatabase {
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let database = SQLiteDatabase(path: path, threadPool: threadPool)
        return try await SQLDatabaseOpening.opened(database) {
            try await threadPool.runIfActive {
                try SQLiteFiles.prepare(path: path)
                try database.connection.withLock { connection in
                    connection = try SQLiteConnection.open(
                        path: path,
                        busyTimeoutMilliseconds: Self.milliseconds(configuration.busyTimeout),
                        statementCacheCapacity: configuration.statementCacheCapacity
                    )
                }
            }
        }
    }

    @discardableResult
    public func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (any SQLConnection) throws -> T
    ) async throws -> T {
        try await SQLDatabaseOpening.onPool {
            try await threadPool.runIfActive {
                try self.connection.withLock { connection throws -> T in
                    guard let connection else { throw SQLDatabaseOpening.closedError }
                    return try body(connection)
                }
            }
        }
    }

    /// Closes the connection (SQLite checkpoints the WAL into the main file and removes it), then stops the
    /// thread. Safe to call twice.
    public func close() async throws {
        // `submit`, unlike `runIfActive`, runs even if the calling task is cancelled: closing must not be skipped.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            threadPool.submit { _ in
                self.connection.withLock { connection in
                    connection?.close()
                    connection = nil
                }
                continuation.resume()
            }
        }
        try await threadPool.shutdownGracefully()
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, milliseconds))
    }
}
