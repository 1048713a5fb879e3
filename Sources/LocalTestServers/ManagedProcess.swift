import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process (a test server) whose stdout and stderr go to a log file.
///
/// Every live `ManagedProcess` is killed with SIGKILL when the test process exits normally, so a forgotten
/// `terminate()` does not leave a server behind. (A crash of the test process itself can still leak one.)
public final class ManagedProcess: Sendable {
    public struct LaunchError: Error, CustomStringConvertible {
        public let description: String
    }

    public let executable: String
    public let arguments: [String]
    public let logFile: String

    // Foundation's `Process` is not declared Sendable on every platform; every access goes through this Mutex.
    private struct State: @unchecked Sendable {
        var process: Process
        var log: FileHandle
    }
    private let state: Mutex<State>
    public let pid: Int32

    /// Starts `executable` with `arguments`. `environment` entries are added to (and override) the current
    /// environment. Output is appended to `logFile` (created if missing).
    public init(
        executable: String,
        arguments: [String],
        environment: [String: String] = [:],
        logFile: String,
        currentDirectory: String? = nil
    ) throws {
        self.executable = executable
        self.arguments = arguments
        self.logFile = logFile

        if !FileManager.default.fileExists(atPath: logFile) {
            guard FileManager.default.createFile(atPath: logFile, contents: nil) else {
                throw LaunchError(description: "cannot create log file \(logFile)")
            }
        }
        guard let log = FileHandle(forWritingAtPath: logFile) else {
            throw LaunchError(description: "cannot open log file \(logFile)")
        }
        log.seekToEndOfFile()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        do {
            try process.run()
        } catch {
            try? log.close()
            throw LaunchError(description: "cannot start \(executable): \(error)")
        }
        self.pid = process.processIdentifier
        self.state = Mutex(State(process: process, log: log))
        ProcessRegistry.shared.add(pid)
    }

    deinit {
        if isRunning { Self.send(SIGKILL, to: pid) }
        ProcessRegistry.shared.remove(pid)
        state.withLock { try? $0.log.close() }
    }

    public var isRunning: Bool {
        state.withLock { $0.process.isRunning }
    }

    /// The exit status (or terminating signal number), or nil while running.
    public var terminationStatus: Int32? {
        state.withLock { $0.process.isRunning ? nil : $0.process.terminationStatus }
    }

    /// Sends SIGTERM.
    public func terminate() {
        kill(signal: SIGTERM)
    }

    /// Sends `signal` (SIGSTOP, SIGCONT, SIGKILL, ...) to the process if it is still running.
    /// A SIGSTOP returns only once the process is really stopped: signals are delivered asynchronously, and a
    /// test that pauses a server must not race a request that slips in first.
    public func kill(signal: Int32) {
        guard isRunning else { return }
        Self.send(signal, to: pid)
        // Returns as soon as it is stopped; the bound is generous for a machine under load.
        if signal == SIGSTOP { waitForState("T", timeout: 20) }
    }

    /// Polls `/proc/<pid>/stat` until the process is in `state` (Linux; elsewhere it returns at once).
    private func waitForState(_ state: Character, timeout: Double) {
        let path = "/proc/\(pid)/stat"
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let stat = try? String(contentsOfFile: path, encoding: .utf8) else { return }
            // The state follows the parenthesised command name: "pid (name) S ...".
            if let close = stat.lastIndex(of: ")"), stat[stat.index(after: close)...].dropFirst().first == state { return }
            usleep(1_000)
        }
    }

    /// Waits until the process has exited. Returns false if it is still running after `timeout`.
    @discardableResult
    public func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        ProcessRegistry.shared.remove(pid)
        return true
    }

    /// SIGTERM, then SIGKILL if the process has not exited within `grace`. A stopped process is continued
    /// first so that it can handle SIGTERM.
    public func stop(grace: Duration = .seconds(10)) async {
        guard isRunning else { return }
        kill(signal: SIGCONT)
        terminate()
        if await !waitForExit(timeout: grace) {
            kill(signal: SIGKILL)
            await waitForExit(timeout: .seconds(5))
        }
    }

    /// The last `lines` lines of the log file, for error messages.
    public func logTail(lines: Int = 20) -> String {
        Self.tail(of: logFile, lines: lines)
    }

    public static func tail(of path: String, lines: Int = 20) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        let text = String(decoding: data.suffix(64 * 1024), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Finds an executable by name on PATH and in the sbin directories (which are often not on PATH).
    public static func findExecutable(
        _ name: String,
        extraDirectories: [String] = ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/local/bin", "/usr/bin"]
    ) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + extraDirectories
        for directory in directories where !directory.isEmpty {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func send(_ signal: Int32, to pid: Int32) {
        #if canImport(Glibc)
        _ = Glibc.kill(pid, signal)
        #elseif canImport(Musl)
        _ = Musl.kill(pid, signal)
        #else
        _ = Darwin.kill(pid, signal)
        #endif
    }

    fileprivate static func killAtExit(_ pid: Int32) {
        send(SIGKILL, to: pid)
    }
}

/// Pids of live managed processes, killed at normal exit of the test process.
private final class ProcessRegistry: Sendable {
    static let shared = ProcessRegistry()
    private let pids = Mutex<Set<Int32>>([])

    private init() {
        atexit {
            for pid in ProcessRegistry.shared.pids.withLock({ $0 }) {
                ManagedProcess.killAtExit(pid)
            }
        }
    }

    func add(_ pid: Int32) { pids.withLock { _ = $0.insert(pid) } }
    func remove(_ pid: Int32) { pids.withLock { _ = $0.remove(pid) } }
}
