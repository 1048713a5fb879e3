import Foundation
import LocalTestServers
import MariaDBDriver
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
            // The holder has the one connection before the waiter asks, and keeps it well past the cancel, however
            // slow the machine is: the order is what the test needs, not the timing.
            let (started, signal) = AsyncStream<Void>.makeStream()
            let holder = Task { try await database.withConnection { connection in
                signal.yield()
                _ = try connection.query("SELECT SLEEP(2)")
            } }
            for await _ in started { break }
            let waiter = Task { try await database.withConnection { _ in "ran" } }
            try await Task.sleep(for: .milliseconds(300))
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            try await holder.value
            // The cancelled waiter took nothing: the one connection is free.
            #expect(try await database.withConnection { try $0.query("SELECT 1 AS one")[0].int("one") } == 1)
        }
    }

    @Test func closeFailsWaitersLetsLoansFinishAndIsIdempotent() async throws {
        let server = try await MariaDBTestServer.shared()
        let database = try await TestDatabase.make(on: server, poolSize: 1)
        let (started, signal) = AsyncStream<Void>.makeStream()
        let holder = Task { try await database.withConnection { connection in
            signal.yield()
            return try connection.query("SELECT SLEEP(2) AS slept")[0].int("slept")
        } }
        for await _ in started { break }
        let waiter = Task { try await database.withConnection { _ in "ran" } }
        try await Task.sleep(for: .milliseconds(300))

        try await database.close()
        #expect(try await holder.value == 0, "the loan in progress completes")
        let waiterError = await #expect(throws: SQLError.self) { try await waiter.value }
        #expect(waiterError?.category == .unavailable)
        let laterError = await #expect(throws: SQLError.self) {
            try await database.withConnection { _ in 1 }
        }
        #expect(laterError?.category == .unavailable)
        try await database.close()
        try await server.dropDatabase(named: database.settings.database)
    }
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
