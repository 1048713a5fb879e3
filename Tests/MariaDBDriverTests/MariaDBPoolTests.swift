import Foundation
import LocalTestServers
@testable import MariaDBDriver
import RotatorSQL
import Synchronization
import Testing

/// The connection pool: concurrency bounded by its size, waiting callers, cancellation, closing.
@Suite("MariaDB connection pool", .enabled(if: MariaDBTestServer.shouldRunTests, mariaDBUnavailable))
struct MariaDBPoolTests {
    @Test func fiftyConcurrentQueriesShareFourConnections() async throws {
        try await TestDatabase.with(poolSize: 4) { database in
            let inFlight = InFlightCounter()
            let connectionIDs = try await withThrowingTaskGroup(of: Int64.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        try await database.withConnection { connection in
                            inFlight.enter()
                            defer { inFlight.leave() }
                            let row = try #require(try connection.queryFirst(
                                "SELECT CONNECTION_ID() AS id, ? AS echoed, SLEEP(0.02) AS slept", [.int(index)]))
                            #expect(try row.int("echoed") == index)
                            return try row.int64("id")
                        }
                    }
                }
                return try await group.reduce(into: [Int64]()) { $0.append($1) }
            }
            #expect(connectionIDs.count == 50)
            #expect(Set(connectionIDs).count <= 4)
            #expect(inFlight.most <= 4)
            #expect(inFlight.most > 1, "loans should overlap")
        }
    }

    @Test func cancelledWaiterLeavesThePool() async throws {
        try await TestDatabase.with(poolSize: 1) { database in
            // The holder keeps the one connection until the test lets it go, and the waiter is cancelled once it is
            // queued: the order is what the test needs, so it is awaited, never assumed from a time.
            let holding = HeldLoan()
            let holder = Task { try await database.withConnection { connection in try holding.hold(connection) } }
            await holding.started()
            let waiter = Task { try await database.withConnection { _ in "ran" } }
            #expect(await Self.until { database.waitingCallers == 1 }, "the waiter is queued behind the holder")
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(database.waitingCallers == 0, "the cancelled waiter left the queue")
            holding.release()
            try await holder.value
            // The cancelled waiter took nothing: the one connection is free.
            #expect(try await database.withConnection { try $0.query("SELECT 1 AS one")[0].int("one") } == 1)
        }
    }

    @Test func closeFailsWaitersLetsLoansFinishAndIsIdempotent() async throws {
        let server = try await MariaDBTestServer.shared()
        let database = try await TestDatabase.make(on: server, poolSize: 1)
        let holding = HeldLoan()
        let holder = Task { try await database.withConnection { connection in try holding.hold(connection) } }
        await holding.started()
        let waiter = Task { try await database.withConnection { _ in "ran" } }
        #expect(await Self.until { database.waitingCallers == 1 }, "the waiter is queued behind the holder")

        // `close()` fails the waiter at once, then waits for the loan in progress, which the test ends only then.
        let closing = Task { try await database.close() }
        let waiterError = await #expect(throws: SQLError.self) { try await waiter.value }
        #expect(waiterError?.category == .unavailable)
        holding.release()
        #expect(try await holder.value == 1, "the loan in progress completes")
        try await closing.value
        let laterError = await #expect(throws: SQLError.self) {
            try await database.withConnection { _ in 1 }
        }
        #expect(laterError?.category == .unavailable)
        try await database.close()
        try await server.dropDatabase(named: database.settings.database)
    }

    /// Polls `condition` until it holds or 30 s pass (a deadline for a broken pool, not a window for a busy machine).
    static func until(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}

/// A loan that holds its connection (after one query on it) until the test releases it, or for a minute at most: a
/// broken pool (a waiter never failed or never cancelled) then makes the test fail instead of hang.
private final class HeldLoan: Sendable {
    private let startedStream: AsyncStream<Void>
    private let startedSignal: AsyncStream<Void>.Continuation
    private let gate = DispatchSemaphore(value: 0)

    init() {
        (startedStream, startedSignal) = AsyncStream<Void>.makeStream()
    }

    /// Runs on the pool's thread: a query, the signal, then a blocking wait for `release()`.
    func hold(_ connection: any SQLConnection) throws -> Int {
        let one = try connection.query("SELECT 1 AS one")[0].int("one")
        startedSignal.yield()
        _ = gate.wait(timeout: .now() + 60)
        return one
    }

    func started() async {
        for await _ in startedStream { return }
    }

    func release() { gate.signal() }
}

/// How many loans run at once, and the most that ever did.
private final class InFlightCounter: Sendable {
    private let counts = Mutex((current: 0, most: 0))

    func enter() {
        counts.withLock { counts in
            counts.current += 1
            counts.most = max(counts.most, counts.current)
        }
    }

    func leave() {
        counts.withLock { $0.current -= 1 }
    }

    var most: Int { counts.withLock { $0.most } }
}
