import Foundation
import LocalTestServers

/// An nginx master process started from one of the configs in `loadtest/nginx/`, with `{{NAME}}` placeholders
/// filled in and every path inside the run's folder.
final class NginxProcess: Sendable {
    let port: Int
    let process: ManagedProcess

    static func start(nginx: String, template: String, name: String, directory: String, values: [String: String]) async throws -> NginxProcess {
        let port = try FreePort.find()
        var text = try String(contentsOfFile: template, encoding: .utf8)
        var all = values
        all["PORT"] = String(port)
        all["PREFIX"] = directory
        for (key, value) in all { text = text.replacingOccurrences(of: "{{\(key)}}", with: value) }
        if let range = text.range(of: #"\{\{[A-Z_]+\}\}"#, options: .regularExpression) {
            throw RunnerError("\(template): no value for \(text[range])")
        }
        for folder in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            try FileManager.default.createDirectory(atPath: "\(directory)/tmp/\(folder)", withIntermediateDirectories: true)
        }
        let config = "\(directory)/\(name).conf"
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let process = try ManagedProcess(executable: nginx, arguments: ["-p", directory, "-c", config], logFile: "\(directory)/\(name).log")
        let started = NginxProcess(port: port, process: process)
        try await waitForListener(port: port, process: process, what: "nginx (\(name))")
        return started
    }

    private init(port: Int, process: ManagedProcess) {
        self.port = port
        self.process = process
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func stop() async {
        await process.stop(grace: .seconds(3))
    }
}

/// Waits until something accepts TCP connections on the loopback port, or the process exits.
func waitForListener(port: Int, process: ManagedProcess, what: String, timeout: Duration = .seconds(30)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if FreePort.isListening(port) { return }
        guard process.isRunning else { throw RunnerError("\(what) exited:\n\(process.logTail())") }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw RunnerError("\(what) did not listen on \(port) within \(timeout):\n\(process.logTail())")
}
