import Foundation
import LocalTestServers
import MariaDBDriver
import RotatorSQL
import Testing

/// Why MariaDB suites are skipped on a machine without mariadbd (never in CI, where they must fail instead).
let mariaDBUnavailable = Comment(rawValue: "MariaDB binaries not found: \(MariaDBTestServer.unavailableReason ?? "")")

/// A fresh database on `server` for one test.
enum TestDatabase {
    static func settings(
        on server: MariaDBTestServer,
        database: String,
        readTimeout: Duration = .seconds(10)
    ) -> MariaDBConnectionSettings {
        MariaDBConnectionSettings(
            host: server.host, port: server.port, user: server.user, password: server.password, database: database,
            connectTimeout: .seconds(2), readTimeout: readTimeout, writeTimeout: readTimeout
        )
    }

    static func make(
        on server: MariaDBTestServer,
        poolSize: Int = 4,
        readTimeout: Duration = .seconds(10)
    ) async throws -> MariaDBDatabase {
        let name = "driver_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try await server.makeDatabase(named: name)
        return try await MariaDBDatabase.connect(settings(on: server, database: name, readTimeout: readTimeout), poolSize: poolSize)
    }

    /// Runs `body` with a new database on the shared server, then closes and drops it.
    static func with<T>(
        poolSize: Int = 4,
        _ body: (MariaDBDatabase) async throws -> T
    ) async throws -> T {
        let server = try await MariaDBTestServer.shared()
        let database = try await make(on: server, poolSize: poolSize)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(database))
        } catch {
            result = .failure(error)
        }
        try await database.close()
        try await server.dropDatabase(named: database.settings.database)
        return try result.get()
    }
}
