import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A private `mariadbd` for tests: a fresh data directory under /tmp, listening on a free loopback port,
/// user `root` with an empty password. The system's MariaDB service is never touched.
///
/// The data directory is removed when the test process exits (or by `stop(removingData: true)`); the server
/// itself is killed at exit if still running.
public final class MariaDBTestServer: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let host = "127.0.0.1"
    public let port: Int
    public let user = "root"
    public let password = ""
    /// Holds `data/`, the socket, and `mariadbd.log`.
    public let directory: String

    private let binaries: Binaries
    private let process: Mutex<ManagedProcess?>

    /// Tests that need MariaDB must fail, not skip, when it is missing in CI.
    public static var isRequired: Bool {
        ProcessInfo.processInfo.environment["CI"] == "true"
    }

    /// Why no server can be started here (binaries missing), or nil when they are all found.
    public static var unavailableReason: String? {
        do {
            _ = try Binaries.locate()
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Whether tests that need MariaDB should run: the binaries exist, or CI requires them (and the tests fail).
    public static var shouldRunTests: Bool {
        isRequired || unavailableReason == nil
    }

    /// One server per test process, started on first use and shared by every suite that only needs
    /// databases. Suites that stop or kill the server must `start()` their own.
    public static func shared() async throws -> MariaDBTestServer {
        try await sharedServer.value
    }

    private static let sharedServer = Task { try await MariaDBTestServer.start() }

    /// Initialises a new data directory and starts a server on it; returns once it accepts connections.
    /// - Parameters:
    ///   - tls: certificates for `--ssl-cert`/`--ssl-key`/`--ssl-ca`; nil: the server offers no TLS.
    ///   - requireSecureTransport: `--require-secure-transport=ON`, plain connections are refused.
    public static func start(tls: TestCertificates? = nil, requireSecureTransport: Bool = false) async throws -> MariaDBTestServer {
        let binaries = try Binaries.locate()
        let directory = try Self.makeDirectory()
        TemporaryDirectoryCleanup.shared.removeAtExit(directory)
        try await Self.installDatabase(binaries: binaries, directory: directory)

        // The port is free when chosen but another process could take it first: try a few.
        var lastError: (any Error)?
        for _ in 0..<3 {
            let port = try FreePort.find()
            let server = MariaDBTestServer(
                binaries: binaries, directory: directory, port: port, tls: tls, requireSecureTransport: requireSecureTransport
            )
            do {
                try await server.launch()
                return server
            } catch {
                lastError = error
                await server.stop()
            }
        }
        throw lastError ?? Failure(description: "mariadbd did not start")
    }

    public let tls: TestCertificates?
    public let requireSecureTransport: Bool

    private init(binaries: Binaries, directory: String, port: Int, tls: TestCertificates? = nil, requireSecureTransport: Bool = false) {
        self.tls = tls
        self.requireSecureTransport = requireSecureTransport
        self.binaries = binaries
        self.directory = directory
        self.port = port
        self.process = Mutex(nil)
    }

    /// The server's log (stdout and stderr), last lines first for error messages.
    public var logFile: String { directory + "/mariadbd.log" }

    public func logTail(lines: Int = 20) -> String {
        ManagedProcess.tail(of: logFile, lines: lines)
    }

    /// Creates a database (utf8mb4, binary collation) through the `mariadb` client. Names are restricted to
    /// letters, digits and underscores, since they end up in SQL text.
    public func makeDatabase(named name: String) async throws {
        try Self.validate(name)
        try await runClient("CREATE DATABASE IF NOT EXISTS `\(name)` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    }

    public func dropDatabase(named name: String) async throws {
        try Self.validate(name)
        try await runClient("DROP DATABASE IF EXISTS `\(name)`")
    }

    /// Sends a signal to the server: SIGSTOP freezes it (connections hang until timeouts), SIGCONT resumes
    /// it, SIGKILL crashes it (InnoDB recovers on `restart()`).
    public func kill(signal: Int32) {
        process.withLock { $0 }?.kill(signal: signal)
    }

    /// Stops the server (SIGCONT first in case it is frozen, then SIGTERM, SIGKILL after 15 s). The data
    /// directory stays for `restart()` unless `removingData`.
    public func stop(removingData: Bool = false) async {
        let running = process.withLock { process -> ManagedProcess? in
            defer { process = nil }
            return process
        }
        await running?.stop(grace: .seconds(15))
        if removingData {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Stops the server if it runs, then starts it again on the same data directory and port.
    public func restart() async throws {
        await stop()
        try await launch()
    }

    public var isRunning: Bool {
        process.withLock { $0 }?.isRunning ?? false
    }

    // MARK: Starting

    private func launch() async throws {
        var arguments = [
            "--no-defaults",
            "--datadir=\(directory)/data",
            "--port=\(port)",
            "--bind-address=127.0.0.1",
            "--socket=\(directory)/mariadbd.sock",
            "--pid-file=\(directory)/mariadbd.pid",
            "--tmpdir=\(directory)/tmp",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--skip-performance-schema",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_bin",
            "--max-connections=500",
            // Small and fast rather than durable: test data may be lost on a crash, never on a clean stop.
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=8M",
            "--innodb-flush-log-at-trx-commit=2",
            "--innodb-doublewrite=0",
        ]
        if let tls {
            arguments += ["--ssl-cert=\(tls.serverCertificateFile)", "--ssl-key=\(tls.serverKeyFile)", "--ssl-ca=\(tls.caFile)"]
        } else {
            arguments.append("--skip-ssl")
        }
        if requireSecureTransport { arguments.append("--require-secure-transport=ON") }
        if getuid() == 0 { arguments.append("--user=root") }
        let started = try ManagedProcess(executable: binaries.server, arguments: arguments, logFile: logFile)
        process.withLock { $0 = started }
        try await waitUntilReady(started)
    }

    /// Polls with `mariadb-admin ping` until the server answers, it exits, or 60 s pass.
    private func waitUntilReady(_ server: ManagedProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard server.isRunning else {
                throw Failure(description: "mariadbd exited during start-up (status \(server.terminationStatus ?? -1)); last log lines:\n\(logTail())")
            }
            let ping = try ManagedProcess(
                executable: binaries.admin,
                arguments: ["--no-defaults", "--protocol=TCP", "--host=\(host)", "--port=\(port)", "--user=\(user)",
                            "--connect-timeout=2"] + clientTLSArguments + ["ping"],
                logFile: directory + "/client.log"
            )
            if await ping.waitForExit(timeout: .seconds(5)), ping.terminationStatus == 0 {
                return
            }
            ping.kill(signal: SIGKILL)
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "mariadbd did not accept connections on port \(port) within 60 s; last log lines:\n\(logTail())")
    }

    private static func installDatabase(binaries: Binaries, directory: String) async throws {
        var arguments = [
            "--no-defaults",
            "--datadir=\(directory)/data",
            // Bootstrap's temporary tables are named by thread, not process: parallel installs sharing /tmp collide.
            "--tmpdir=\(directory)/tmp",
            "--auth-root-authentication-method=normal",  // root with an empty password, over TCP too
            "--skip-test-db",
            "--skip-name-resolve",  // grants root@127.0.0.1, which is how tests connect
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=8M",
        ]
        if getuid() == 0 { arguments.append("--user=root") }
        let logFile = directory + "/install.log"
        let install = try ManagedProcess(executable: binaries.install, arguments: arguments, logFile: logFile)
        guard await install.waitForExit(timeout: .seconds(60)) else {
            install.kill(signal: SIGKILL)
            throw Failure(description: "mariadb-install-db did not finish within 60 s; last log lines:\n\(ManagedProcess.tail(of: logFile))")
        }
        guard install.terminationStatus == 0 else {
            throw Failure(description: "mariadb-install-db failed (status \(install.terminationStatus ?? -1)); last log lines:\n\(ManagedProcess.tail(of: logFile))")
        }
    }

    private static func makeDirectory() throws -> String {
        // Under /tmp, not $TMPDIR: the socket path must stay within the 108 bytes a Unix socket allows.
        let directory = "/tmp/rotator-mariadb-\(UUID().uuidString.prefix(8).lowercased())"
        do {
            try FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "cannot create \(directory): \(error)")
        }
        return directory
    }

    // MARK: Client

    private func runClient(_ sql: String) async throws {
        let logFile = directory + "/client.log"
        let client = try ManagedProcess(
            executable: binaries.client,
            arguments: ["--no-defaults", "--protocol=TCP", "--host=\(host)", "--port=\(port)", "--user=\(user)",
                        "--connect-timeout=5"] + clientTLSArguments + ["--execute=\(sql)"],
            logFile: logFile
        )
        guard await client.waitForExit(timeout: .seconds(30)) else {
            client.kill(signal: SIGKILL)
            throw Failure(description: "mariadb client timed out running: \(sql)")
        }
        guard client.terminationStatus == 0 else {
            throw Failure(description: "mariadb client failed (status \(client.terminationStatus ?? -1)) running: \(sql)\n\(ManagedProcess.tail(of: logFile, lines: 5))")
        }
    }

    /// The server's own clients speak TLS to a server that has it (required when it refuses plain connections).
    private var clientTLSArguments: [String] {
        tls.map { ["--ssl", "--ssl-ca=\($0.caFile)"] } ?? []
    }

    private static func validate(_ name: String) throws {
        let allowed = name.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" }
        guard !name.isEmpty, name.count <= 64, allowed else {
            throw Failure(description: "database name '\(name)' must be 1–64 letters, digits or underscores")
        }
    }

    // MARK: Binaries

    private struct Binaries: Sendable {
        var server: String
        var install: String
        var client: String
        var admin: String

        static func locate() throws -> Binaries {
            func find(_ names: String...) throws -> String {
                for name in names {
                    if let path = ManagedProcess.findExecutable(name) { return path }
                }
                throw Failure(description: "\(names[0]) not found on PATH or in /usr/sbin (install mariadb-server and mariadb-client)")
            }
            return Binaries(
                server: try find("mariadbd", "mysqld"),
                install: try find("mariadb-install-db", "mysql_install_db"),
                client: try find("mariadb", "mysql"),
                admin: try find("mariadb-admin", "mysqladmin")
            )
        }
    }
}

/// Directories to remove when the test process exits normally.
final class TemporaryDirectoryCleanup: Sendable {
    static let shared = TemporaryDirectoryCleanup()
    private let directories = Mutex<[String]>([])

    private init() {
        atexit {
            for directory in TemporaryDirectoryCleanup.shared.directories.withLock({ $0 }) {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    func removeAtExit(_ directory: String) {
        directories.withLock { $0.append(directory) }
    }
}
