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

    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") }

    static func run(url: String, headers: [[String]], body: String, connections: Int, seconds: Int, directory: String, measuring pids: [Int32]) throws -> WrkRun {
        let script = "\(directory)/wrk-post.lua"
        var lua = "wrk.method = \"POST\"\nwrk.body = [[\(body)]]\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
        for header in headers where header.count == 2 { lua += "wrk.headers[\"\(header[0])\"] = \"\(header[1])\"\n" }
        try lua.write(toFile: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        process.arguments = ["-t1", "-c\(connections)", "-d\(seconds)s", "-s", script, url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let before = ProcessCost.sample(pids)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let cost = ProcessCost.sample(pids) - before
        let text = String(decoding: data, as: UTF8.self)
        // "  123456 requests in 5.00s, ..." and "Requests/sec:  24691.20"
        let requests = text.split(separator: "\n").first { $0.contains(" requests in ") }
            .flatMap { Int($0.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") } ?? 0
        let throughput = text.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }
            .flatMap { Double($0.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") } ?? 0
        return WrkRun(requests: requests, throughput: throughput, cost: cost)
    }

    var cpuMicrosecondsPerRequest: Double { requests > 0 ? cost.cpuSeconds * 1e6 / Double(requests) : 0 }
    var contextSwitchesPerRequest: Double { requests > 0 ? Double(cost.contextSwitches) / Double(requests) : 0 }
}
