import Foundation

/// CPU time and context switches of a set of processes (all their threads), read from /proc: what one hop costs
/// per request, steadier than throughput on a shared machine.
struct ProcessCost: Sendable {
    var cpuSeconds: Double
    var contextSwitches: Int

    /// The processes and, for nginx, its workers (children of the master).
    static func sample(_ pids: [Int32]) -> ProcessCost {
        var total = ProcessCost(cpuSeconds: 0, contextSwitches: 0)
        for pid in pids + pids.flatMap(children) {
            total.cpuSeconds += cpu(pid)
            total.contextSwitches += switches(pid)
        }
        return total
    }

    /// CPU time per request in microseconds; 0 for a run without requests.
    func microsecondsPerRequest(_ requests: Int) -> Double {
        requests > 0 ? cpuSeconds * 1e6 / Double(requests) : 0
    }

    static func - (lhs: ProcessCost, rhs: ProcessCost) -> ProcessCost {
        ProcessCost(cpuSeconds: lhs.cpuSeconds - rhs.cpuSeconds, contextSwitches: lhs.contextSwitches - rhs.contextSwitches)
    }

    /// utime + stime of every thread, in seconds (fields 14 and 15 of /proc/PID/stat, in clock ticks).
    private static func cpu(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, so utime (14) and stime (15) are at offsets 11 and 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Voluntary and involuntary context switches, summed over the process's threads.
    private static func switches(_ pid: Int32) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var total = 0
        for task in tasks {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { continue }
            for line in status.split(separator: "\n") where line.contains("ctxt_switches:") {
                total += Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
            }
        }
        return total
    }

    private static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent ? pid : nil
        }
    }
}

/// One closed-loop run of Debian's `wrk` (one thread, C connections), which costs little CPU itself, so the
/// figures are the target's and not the driver's.
struct WrkRun: Sendable {
    var requests: Int
    var throughput: Double
    var cost: ProcessCost
    /// From wrk's `--latency` distribution, in milliseconds.
    var latencyP50: Double = 0
    var latencyP99: Double = 0
    /// Answers with a status outside 2xx and 3xx ("Non-2xx or 3xx responses").
    var notOK = 0
    /// Connect, read, write and timeout errors ("Socket errors").
    var socketErrors = 0

    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") }

    static func run(url: String, headers: [[String]], body: String, connections: Int, seconds: Int, directory: String, measuring pids: [Int32]) throws -> WrkRun {
        let script = "\(directory)/wrk-post.lua"
        // A level-4 long bracket: a JSON body holding `]]` (nested arrays) stays one Lua string.
        var lua = "wrk.method = \"POST\"\nwrk.body = [====[\(body)]====]\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
        for header in headers where header.count == 2 { lua += "wrk.headers[\"\(header[0])\"] = \"\(header[1])\"\n" }
        try lua.write(toFile: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        process.arguments = ["-t1", "-c\(connections)", "-d\(seconds)s", "--latency", "-s", script, url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let before = ProcessCost.sample(pids)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return WrkRun(output: String(decoding: data, as: UTF8.self), cost: ProcessCost.sample(pids) - before)
    }

    /// Reads wrk's summary: "  123456 requests in 5.00s, ...", "Requests/sec:  24691.20", the latency distribution
    /// ("     50%  512.00us"), "Non-2xx or 3xx responses: 12" and "Socket errors: connect 0, read 1, write 0, timeout 2".
    init(output text: String, cost: ProcessCost) {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func value(after prefix: String) -> Substring? {
            lines.first { $0.hasPrefix(prefix) }.map { $0.dropFirst(prefix.count).drop { $0 == " " } }
        }
        requests = lines.first { $0.contains(" requests in ") }.flatMap { Int($0.split(separator: " ").first ?? "") } ?? 0
        throughput = value(after: "Requests/sec:").flatMap { Double($0) } ?? 0
        self.cost = cost
        latencyP50 = value(after: "50%").flatMap(Self.milliseconds) ?? 0
        latencyP99 = value(after: "99%").flatMap(Self.milliseconds) ?? 0
        notOK = value(after: "Non-2xx or 3xx responses:").flatMap { Int($0) } ?? 0
        socketErrors = value(after: "Socket errors:").map { list in
            list.split(separator: ",").compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
        } ?? 0
    }

    /// "512.00us", "1.23ms", "2.01s", "1.00m" in milliseconds.
    static func milliseconds(_ text: Substring) -> Double? {
        let units: [(suffix: String, scale: Double)] = [("us", 0.001), ("ms", 1), ("s", 1000), ("m", 60_000)]
        for unit in units where text.hasSuffix(unit.suffix) {
            return Double(text.dropLast(unit.suffix.count)).map { $0 * unit.scale }
        }
        return nil
    }

    var cpuMicrosecondsPerRequest: Double { cost.microsecondsPerRequest(requests) }
    var contextSwitchesPerRequest: Double { requests > 0 ? Double(cost.contextSwitches) / Double(requests) : 0 }
}
