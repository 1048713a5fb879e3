import Foundation
import LocalTestServers
import MariaDBDriver
import RotatorSQL
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A server that freezes, dies or restarts: calls fail with `.unavailable` within the timeouts, and the pool
/// recovers by itself when the server is back. Each test has its own server, since it stops it.
@Suite("MariaDB degraded operation", .enabled(if: MariaDBTestServer.shouldRunTests, mariaDBUnavailable))
struct MariaDBDegradedTests {
    private static let timeout = Duration.seconds(2)

    private func withPrivateServer(_ body: (MariaDBTestServer, MariaDBDatabase) async throws -> Void) async throws {
        let server = try await MariaDBTestServer.start()
        let result: Result<Void, any Error>
        do {
            let database = try await TestDatabase.make(on: server, poolSize: 2, readTimeout: Self.timeout)
            do {
                result = .success(try await body(server, database))
            } catch {
                result = .failure(error)
            }
            server.kill(signal: SIGCONT)
            try await database.close()
        } catch {
            await server.stop(removingData: true)
            throw error
        }
        await server.stop(removingData: true)
        try result.get()
    }

    private func ping(_ database: MariaDBDatabase) async throws -> Int {
        try await database.withConnection { try $0.query("SELECT 1 AS one")[0].int("one") }
    }

    /// Every connection of the pool in use at once, so each has to work.
    private func pingAllConnections(_ database: MariaDBDatabase, poolSize: Int = 2) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<poolSize {
                group.addTask {
                    try await database.withConnection { _ = try $0.query("SELECT SLEEP(0.05)") }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func frozenServerFailsWithinTheTimeoutAndRecovers() async throws {
        try await withPrivateServer { server, database in
            try await pingAllConnections(database)
            server.kill(signal: SIGSTOP)

            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: SQLError.self) { try await ping(database) }
            let elapsed = clock.now - started
            #expect(error?.category == .unavailable)
            #expect(elapsed < .seconds(8), "failed after \(elapsed), timeout \(Self.timeout)")

            // Reconnecting to a frozen server is bounded too (the TCP connect succeeds, the handshake does not).
            let reconnectStarted = clock.now
            let reconnectError = await #expect(throws: SQLError.self) { try await ping(database) }
            #expect(reconnectError?.category == .unavailable)
            #expect(clock.now - reconnectStarted < .seconds(8))

            server.kill(signal: SIGCONT)
            try await pingAllConnections(database)
            #expect(try await ping(database) == 1)
        }
    }

    @Test func restartedServerIsReconnectedWithoutFailingACall() async throws {
        try await withPrivateServer { server, database in
            try await database.withConnection { connection in
                try connection.execute("CREATE TABLE survivors (id BIGINT NOT NULL PRIMARY KEY) ENGINE=InnoDB")
                try connection.execute("INSERT INTO survivors (id) VALUES (?)", [.int(1)])
            }
            try await pingAllConnections(database)
            try await server.restart()
            // Idle connections the server closed are detected before use and reopened: no call fails.
            try await pingAllConnections(database)
            let ids = try await database.withConnection { try $0.query("SELECT id FROM survivors").map { try $0.int("id") } }
            #expect(ids == [1])
        }
    }

    @Test func killedServerIsUnavailableUntilRestarted() async throws {
        try await withPrivateServer { server, database in
            try await pingAllConnections(database)
            server.kill(signal: SIGKILL)
            // Until it is gone, not for a fixed time: a busy machine may take a while to reap it.
            for _ in 0..<600 where server.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!server.isRunning)
            for _ in 0..<3 {
                let error = await #expect(throws: SQLError.self) { try await ping(database) }
                #expect(error?.category == .unavailable)
            }
            try await server.restart()
            try await pingAllConnections(database)
            #expect(try await ping(database) == 1)
        }
    }

    @Test func transactionInterruptedByAFreezeWritesNothing() async throws {
        try await withPrivateServer { server, database in
            try await database.withConnection { connection in
                try connection.execute("CREATE TABLE entries (id BIGINT NOT NULL PRIMARY KEY) ENGINE=InnoDB")
            }
            let error = await #expect(throws: SQLError.self) {
                try await database.withConnection { connection in
                    try connection.transaction {
                        try connection.execute("INSERT INTO entries (id) VALUES (?)", [.int(1)])
                        // Frozen between two statements of the transaction, whatever the machine's speed.
                        server.kill(signal: SIGSTOP)
                        _ = try connection.query("SELECT SLEEP(1)")
                        try connection.execute("INSERT INTO entries (id) VALUES (?)", [.int(2)])
                    }
                }
            }
            #expect(error?.category == .unavailable)
            server.kill(signal: SIGCONT)
            // The server rolled back the abandoned transaction when the connection closed.
            let ids = try await database.withConnection { try $0.query("SELECT id FROM entries").map { try $0.int("id") } }
            #expect(ids.isEmpty)
        }
    }
}
