import Logging
import NIOPosix
import RotatorSQL
import Synchronization

/// A MariaDB (10.11) or MySQL (8) database behind the driver protocol.
///
/// A fixed pool of connections, each used by one closure at a time on this database's own thread pool (one
/// thread per connection): libmariadb's calls block on the network, so they never run on the caller's
/// executor or an event loop. Callers beyond the pool size wait, first come first served.
///
/// When the server stops answering, calls fail with `.unavailable` after the configured timeouts; a lost
/// connection is reopened on its next use, so the database recovers by itself when the server returns.
public final class MariaDBDatabase: SQLDatabase {
    public let settings: MariaDBConnectionSettings
    public var dialect: SQLDialect { .mysql }

    private let threadPool: NIOThreadPool
    private let slots: [ConnectionSlot]
    private let state: Mutex<ConnectionPoolState>
    private let nextWaiterID = Atomic<Int>(0)

    /// One pooled connection. The Mutex makes the non-Sendable connection shareable without `@unchecked`:
    /// the pool lends a slot to one caller at a time, so the lock is never contended.
    private final class ConnectionSlot: Sendable {
        let connection: Mutex<MariaDBConnection>

        init(_ connection: sending MariaDBConnection) {
            self.connection = Mutex(connection)
        }
    }

    private init(settings: MariaDBConnectionSettings, poolSize: Int, threadPool: NIOThreadPool, logger: Logger) {
        self.settings = settings
        self.threadPool = threadPool
        var logger = logger
        logger[metadataKey: "db.host"] = "\(settings.host):\(settings.port)"
        logger[metadataKey: "db.name"] = "\(settings.database)"
        self.slots = (0..<poolSize).map { _ in ConnectionSlot(MariaDBConnection(settings: settings, logger: logger)) }
        self.state = Mutex(ConnectionPoolState(size: poolSize))
    }

    deinit {
        // A safety net for a database dropped without `close()`: no work can be in flight here, since queued
        // work holds a reference to `self`. Each connection closes its handle as the slots are freed.
        threadPool.shutdownGracefully { _ in }
    }

    /// Opens `poolSize` connections (in parallel) and returns once all are ready; throws `.unavailable` if
    /// the server cannot be reached or refuses the credentials.
    public static func connect(
        _ settings: MariaDBConnectionSettings,
        poolSize: Int = 4,
        logger: Logger = Logger(label: "rotator.mariadb")
    ) async throws -> MariaDBDatabase {
        precondition(poolSize >= 1, "a MariaDB pool needs at least one connection")
        let threadPool = NIOThreadPool(numberOfThreads: poolSize)
        threadPool.start()
        let database = MariaDBDatabase(settings: settings, poolSize: poolSize, threadPool: threadPool, logger: logger)
        return try await SQLDatabaseOpening.opened(database) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for slot in database.slots {
                    group.addTask {
                        try await threadPool.runIfActive {
                            try slot.connection.withLock { try $0.prepareForUse() }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @discardableResult
    public func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (any SQLConnection) throws -> T
    ) async throws -> T {
        let index = try await acquire()
        defer { release(index) }
        let slot = slots[index]
        return try await SQLDatabaseOpening.onPool {
            try await threadPool.runIfActive {
                try slot.connection.withLock { connection throws -> T in
                    try connection.prepareForUse()
                    return try body(connection)
                }
            }
        }
    }

    /// Fails callers still waiting for a connection, waits for loans in progress to end (bounded by the
    /// timeouts), closes every connection, then stops the threads. Later calls fail with `.unavailable`.
    /// Safe to call twice.
    public func close() async throws {
        guard let waiters = state.withLock({ $0.close() }) else { return }
        for waiter in waiters {
            waiter.resume(throwing: ConnectionPoolState.closedError)
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if state.withLock({ $0.waitUntilIdle(continuation) }) {
                continuation.resume()
            }
        }
        // `submit`, unlike `runIfActive`, runs even if the calling task is cancelled: closing must not be skipped.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            threadPool.submit { _ in
                for slot in self.slots {
                    slot.connection.withLock { $0.disconnect() }
                }
                continuation.resume()
            }
        }
        try await threadPool.shutdownGracefully()
    }

    // MARK: Pool

    /// Callers queued for a connection now: a signal for tests that must act once a caller waits (`@testable`).
    var waitingCallers: Int { state.withLock { $0.waitingCount } }

    private func acquire() async throws -> Int {
        let waiterID = nextWaiterID.wrappingAdd(1, ordering: .relaxed).newValue
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                let action = state.withLock {
                    $0.acquire(waiterID: waiterID, continuation: continuation, isCancelled: Task.isCancelled)
                }
                switch action {
                case .use(let index): continuation.resume(returning: index)
                case .fail(let error): continuation.resume(throwing: error)
                case .wait: break
                }
            }
        } onCancel: {
            state.withLock { $0.cancel(waiterID: waiterID) }?.resume(throwing: CancellationError())
        }
    }

    private func release(_ index: Int) {
        switch state.withLock({ $0.release(index) }) {
        case .none:
            break
        case .handOver(let index, let waiter):
            waiter.resume(returning: index)
        case .closeMayProceed(let continuations):
            for continuation in continuations { continuation.resume() }
        }
    }
}
