import Foundation
import LocalTestServers

/// One `rotator` node as its own process, on a free loopback port.
final class RotatorProcess: Sendable {
    static let proxyKey = "rk-loadtest-proxy-key-0123456789"
    static let adminPassword = "loadtest-admin-password-4821"

    let name: String
    let port: Int
    let environment: [String: String]
    let binary: String
    let logFile: String
    private let current: LockedProcess

    var url: String { "http://127.0.0.1:\(port)" }
    var process: ManagedProcess { current.value }

    /// Default mode (SQLite + memory) in `directory`, or enterprise mode when `database` and `redis` URLs are given.
    static func start(
        name: String, binary: String, directory: String, databaseURL: String? = nil, redisURL: String? = nil
    ) async throws -> RotatorProcess {
        let port = try FreePort.find()
        var environment = [
            "BACKEND_PORT": String(port), "BIND_HOST": "127.0.0.1", "LOG_LEVEL": "warning",
            "ADMIN_PASSWORD": adminPassword, "JWT_SECRET": "loadtest-jwt-secret-0123456789abcdef",
            "ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "GLOBAL_PROXY_KEYS": proxyKey,
            "PROXY_TIMEOUT": "10", "SHUTDOWN_GRACE_SECONDS": "2",
        ]
        if let databaseURL, let redisURL {
            environment["DATABASE_URL"] = databaseURL
            environment["REDIS_URL"] = redisURL
        } else {
            environment["DATABASE_PATH"] = "\(directory)/\(name).db"
        }
        let node = RotatorProcess(name: name, port: port, environment: environment, binary: binary, logFile: "\(directory)/\(name).log",
                                  process: try Self.launch(binary: binary, environment: environment, logFile: "\(directory)/\(name).log"))
        try await node.waitReady()
        return node
    }

    private static func launch(binary: String, environment: [String: String], logFile: String) throws -> ManagedProcess {
        try ManagedProcess(executable: binary, arguments: [], environment: environment, logFile: logFile)
    }

    private init(name: String, port: Int, environment: [String: String], binary: String, logFile: String, process: ManagedProcess) {
        self.name = name
        self.port = port
        self.environment = environment
        self.binary = binary
        self.logFile = logFile
        self.current = LockedProcess(process)
    }

    /// Starts the node again (same port, same settings) after it was killed.
    func restart() async throws {
        current.replace(with: try Self.launch(binary: binary, environment: environment, logFile: logFile))
        try await waitReady()
    }

    func waitReady(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if FreePort.isListening(port), (try? await HTTP.shared.get("\(url)/readyz").status) == 200 { return }
            guard process.isRunning else { throw RunnerError("node \(name) exited:\n\(process.logTail(lines: 30))") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RunnerError("node \(name) not ready within \(timeout):\n\(process.logTail(lines: 30))")
    }

    func stop() async {
        await process.stop(grace: .seconds(5))
    }
}

/// The process behind a node, replaced when the node restarts.
final class LockedProcess: Sendable {
    private let state: Mutex<ManagedProcess>
    init(_ process: ManagedProcess) { state = Mutex(process) }
    var value: ManagedProcess { state.withLock { $0 } }
    func replace(with process: ManagedProcess) { state.withLock { $0 = process } }
}

import Synchronization

/// Resident memory and open file descriptors of a process, from /proc.
struct ProcessFootprint: Sendable, Codable, Equatable {
    var rssKiB: Int
    var fileDescriptors: Int

    static func of(pid: Int32) -> ProcessFootprint? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
        return rss.map { ProcessFootprint(rssKiB: $0, fileDescriptors: fds) }
    }
}

/// Samples a process's resident memory every 100 ms while a body runs; returns the body's value and the peak.
func withPeakMemory<T: Sendable>(of pid: Int32, _ body: () async throws -> T) async rethrows -> (T, peakKiB: Int) {
    let sampler = Task {
        var peak = 0
        while !Task.isCancelled {
            peak = max(peak, ProcessFootprint.of(pid: pid)?.rssKiB ?? 0)
            try? await Task.sleep(for: .milliseconds(100))
        }
        return max(peak, ProcessFootprint.of(pid: pid)?.rssKiB ?? 0)
    }
    do {
        let value = try await body()
        sampler.cancel()
        return (value, await sampler.value)
    } catch {
        sampler.cancel()
        throw error
    }
}
