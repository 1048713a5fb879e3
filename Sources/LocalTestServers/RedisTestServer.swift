import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A private `redis-server` on a free loopback port, with no persistence, for tests and load tests.
///
/// Never the system's Redis service: each instance has its own port and temporary directory. Use
/// `.enabled(if: RedisTestServer.shouldRun)` on tests: without `redis-server` they are skipped, except under
/// `CI=true`, where they run and fail with a clear message.
public final class RedisTestServer: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    public let password: String?
    /// The master's port when this server is a replica (`--replicaof 127.0.0.1 <port>`).
    public let replicaOf: Int?
    /// With TLS the server listens only on its TLS port (`--port 0 --tls-port`): nothing reaches it in plain text.
    public let tls: TLS?
    /// ACL users (`--user`); the default user is switched off when there is any.
    public let users: [ACLUser]

    public struct TLS: Sendable {
        public var certificates: TestCertificates
        /// `--tls-auth-clients yes`: a client must show a certificate signed by the CA.
        public var requireClientCertificate: Bool

        public init(certificates: TestCertificates, requireClientCertificate: Bool = false) {
            self.certificates = certificates
            self.requireClientCertificate = requireClientCertificate
        }
    }

    public struct ACLUser: Sendable {
        public var name: String
        public var password: String

        public init(name: String, password: String) {
            self.name = name
            self.password = password
        }
    }
    /// Working directory (and log file location); removed by `stop()`.
    public let directory: String
    public let logFile: String
    private let executable: String
    private let process: Mutex<ManagedProcess?>
    /// "Ready" lines an earlier run (before `restart()`) left in the log.
    private let readyLinesBeforeLaunch = Mutex(0)

    /// Under CI a missing `redis-server` is a failure, not a reason to skip.
    public static var isRequired: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    public static var executablePath: String? { ManagedProcess.findExecutable("redis-server") }

    public static var isAvailable: Bool { executablePath != nil }

    /// For `@Test(.enabled(if: RedisTestServer.shouldRun))`: run when redis-server exists or CI requires it.
    public static var shouldRun: Bool {
        if isAvailable || isRequired { return true }
        print("RedisTestServer: redis-server not found on PATH or in sbin; skipping Redis tests (CI=true makes this a failure)")
        return false
    }

    private init(
        executable: String, port: Int, password: String?, replicaOf: Int?, tls: TLS?, users: [ACLUser], directory: String
    ) {
        self.executable = executable
        self.port = port
        self.password = password
        self.replicaOf = replicaOf
        self.tls = tls
        self.users = users
        self.directory = directory
        self.logFile = directory + "/redis-server.log"
        self.process = Mutex(nil)
    }

    deinit {
        stop()
    }

    /// Starts `redis-server` and waits (up to 20 s) until it answers PING. With `replicaOf`, a replica of the
    /// server on that loopback port.
    public static func start(
        password: String? = nil, replicaOf: Int? = nil, tls: TLS? = nil, users: [ACLUser] = []
    ) async throws -> RedisTestServer {
        guard let executable = executablePath else {
            throw Failure(description: "redis-server not found (install the redis-server package)")
        }
        // A port can be taken between FreePort.find() and the server's bind; try a few, each in a directory of its own
        // (a failed attempt's server removes its directory when it goes).
        var lastError: (any Error)?
        for _ in 0..<3 {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("redis-test-\(UUID().uuidString.prefix(8))").path
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw Failure(description: "cannot create \(directory): \(error)")
            }
            let server = RedisTestServer(
                executable: executable, port: try FreePort.find(), password: password, replicaOf: replicaOf, tls: tls, users: users,
                directory: directory
            )
            do {
                try await server.launch()
                return server
            } catch {
                lastError = error
                server.terminateProcess()
            }
        }
        throw lastError ?? Failure(description: "redis-server did not start")
    }

    /// Kills the server (no persistence to protect) and removes its directory. Idempotent.
    public func stop() {
        terminateProcess()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Sends a signal to the running server (SIGKILL, SIGTERM, SIGSTOP, SIGCONT...).
    public func kill(signal: Int32) {
        process.withLock { $0 }?.kill(signal: signal)
    }

    /// SIGSTOP: the port stays open (the kernel still accepts connections) but nothing answers.
    public func pause() { kill(signal: SIGSTOP) }

    /// SIGCONT after `pause()`.
    public func resume() { kill(signal: SIGCONT) }

    /// Kills the server if it still runs and starts a fresh, empty one on the same port.
    public func restart() async throws {
        if let old = process.withLock({ $0 }) {
            old.kill(signal: SIGCONT)
            old.kill(signal: SIGKILL)
            await old.waitForExit(timeout: .seconds(10))
        }
        try await launch()
    }

    public var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }

    public func logTail(lines: Int = 20) -> String { ManagedProcess.tail(of: logFile, lines: lines) }

    // MARK: -

    private func launch() async throws {
        var arguments = [
            "--port", String(tls == nil ? port : 0), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory, "--daemonize", "no",
        ]
        if let password { arguments += ["--requirepass", password] }
        if let replicaOf { arguments += ["--replicaof", "127.0.0.1", String(replicaOf)] }
        if let tls {
            arguments += [
                "--tls-port", String(port), "--tls-cert-file", tls.certificates.serverCertificateFile,
                "--tls-key-file", tls.certificates.serverKeyFile, "--tls-ca-cert-file", tls.certificates.caFile,
                "--tls-auth-clients", tls.requireClientCertificate ? "yes" : "no",
            ]
        }
        // On the command line a directive's words are separate arguments (redis-server joins them up to the next `--`).
        for user in users { arguments += ["--user", user.name, "on", ">\(user.password)", "~*", "&*", "+@all"] }
        if !users.isEmpty { arguments += ["--user", "default", "off"] }
        let managed: ManagedProcess
        do {
            managed = try ManagedProcess(executable: executable, arguments: arguments, logFile: logFile, currentDirectory: directory)
        } catch {
            throw Failure(description: "cannot start redis-server: \(error)")
        }
        let earlierReadyLines = ((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "").components(separatedBy: "Ready to accept connections").count - 1
        readyLinesBeforeLaunch.withLock { $0 = max(earlierReadyLines, 0) }
        process.withLock { $0 = managed }

        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if !managed.isRunning {
                throw Failure(description: "redis-server on port \(port) exited during start-up; log tail:\n\(logTail())")
            }
            if tls == nil ? Self.answersPing(port: port) : logSaysReady() { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw Failure(description: "redis-server on port \(port) did not answer PING within 20 s; log tail:\n\(logTail())")
    }

    /// A TLS-only server cannot be probed in plain text: its log says when it listens.
    private func logSaysReady() -> Bool {
        guard let log = try? String(contentsOfFile: logFile, encoding: .utf8) else { return false }
        return log.components(separatedBy: "Ready to accept connections").count > readyLinesBeforeLaunch.withLock { $0 } + 1
    }

    private func terminateProcess() {
        guard let managed = process.withLock({ $0 }) else { return }
        managed.kill(signal: SIGCONT)
        managed.kill(signal: SIGKILL)
    }

    /// A blocking, short-timeout probe (loopback only): sends an inline PING and accepts `+PONG` or `-NOAUTH`
    /// (a password-protected server that answers is up). `-LOADING` and silence are not ready.
    static func answersPing(port: Int) -> Bool {
        guard let text = inlineCommand("PING", port: port) else { return false }
        return text.hasPrefix("+PONG") || text.hasPrefix("-NOAUTH")
    }

    /// Sends one inline command on a fresh loopback connection and returns the raw reply text of one read (small
    /// replies only; nil when nothing answered within 300 ms). For probes, not for traffic.
    public static func inlineCommand(_ command: String, port: Int) -> String? {
        FreePort.withLoopbackSocket(port: port, failure: nil) { fd, address -> String? in
            var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard connect(fd, address, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 else { return nil }
            let request = Array("\(command)\r\n".utf8)
            guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
            var reply: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            repeat {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { break }
                reply += chunk.prefix(count)
            } while !isWhole(reply)
            return reply.isEmpty ? nil : String(decoding: reply, as: UTF8.self)
        }
    }

    /// A bulk string (`$<length>\r\n...`, as `INFO` answers) is whole once its length has arrived; other replies
    /// here are small enough for one read.
    private static func isWhole(_ reply: [UInt8]) -> Bool {
        guard reply.first == UInt8(ascii: "$"), let end = reply.firstIndex(of: UInt8(ascii: "\r")),
              let length = Int(String(decoding: reply[1..<end], as: UTF8.self)) else { return true }
        return reply.count >= end + 2 + max(length, 0) + 2
    }
}
