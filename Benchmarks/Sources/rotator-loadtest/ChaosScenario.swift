import Foundation
import LoadDriver

/// 5. Steady load through three nodes while things break: admin edits, Redis killed and restarted, a node
/// SIGKILLed, MariaDB frozen and resumed. Errors per event and seconds until clean again.
enum ChaosScenario {
    struct Event {
        var at: Double
        var label: String
        var action: @Sendable () async throws -> Void
    }

    static func run(_ context: ScenarioContext) async throws -> ScenarioReport {
        let fleet = context.fleet
        let total: Double = context.options.duration.map { max(20, $0 * 12) } ?? [.quick: 32, .full: 120, .smoke: 20][context.options.mode]!
        let rate = context.scaled(200.0, smoke: 50.0)
        let edits = context.scaled(50, smoke: 10)
        let admin = try await AdminClient.login(fleet.cluster[0].url)
        let keys = loadKeys(10, prefix: "sk-chaos")
        try await admin.importKeys(keys, configID: try await admin.createConfig(slug: "chaos", upstream: fleet.mock.baseURL))
        let probeID = try await admin.createConfig(slug: "chaos-probe", upstream: fleet.mock.baseURL)
        try await admin.importKeys(loadKeys(2, prefix: "sk-probe"), configID: probeID)
        try await Task.sleep(for: .milliseconds(500))

        let events = [
            Event(at: (0.20 * total).rounded(), label: "Redis killed (SIGKILL)") { fleet.redis.kill(signal: SIGKILL) },
            Event(at: (0.35 * total).rounded(), label: "Redis restarted") { try await fleet.redis.restart() },
            Event(at: (0.50 * total).rounded(), label: "node 3 killed (SIGKILL)") { fleet.cluster[2].process.kill(signal: SIGKILL) },
            Event(at: (0.60 * total).rounded(), label: "node 3 restarted") { try await fleet.cluster[2].restart() },
            Event(at: (0.70 * total).rounded(), label: "MariaDB frozen (SIGSTOP)") { fleet.mariadb.kill(signal: SIGSTOP) },
            Event(at: (0.85 * total).rounded(), label: "MariaDB resumed (SIGCONT)") { fleet.mariadb.kill(signal: SIGCONT) },
        ]
        let started = ContinuousClock.now
        let load = context.runInBackground(context.plan("chaos", url: context.proxyURL(fleet.balancer.url, slug: "chaos"), mode: .open,
                                                        connections: 1024, rate: rate, duration: total, warmup: 0))
        // Admin edits under load, before anything breaks: toggle a probe config on node 1, wait until nodes 2 and 3 see it.
        var propagation: [Double] = []
        var active = true
        for _ in 0..<edits {
            active.toggle()
            try await admin.setActive(configID: probeID, active)
            let edited = ContinuousClock.now
            for node in fleet.cluster.dropFirst() {
                let url = context.proxyURL(node.url, slug: "chaos-probe")
                while ContinuousClock.now - edited < .seconds(10) {
                    let status = try? await HTTP.shared.send(.POST, url, headers: [("Authorization", "Bearer \(RotatorProcess.proxyKey)")],
                                                              body: ScenarioContext.chatBody).status
                    if status == (active ? 200 : 404) { break }
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            propagation.append((ContinuousClock.now - edited).seconds * 1000)
            try await Task.sleep(for: .milliseconds(20))
        }
        var happened: [(second: Double, label: String)] = []
        for event in events {
            try? await Task.sleep(until: started + .milliseconds(Int64(event.at * 1000)), clock: .continuous)
            let second = (ContinuousClock.now - started).seconds
            say("chaos: \(event.label) at \(String(format: "%.1f", second)) s")
            try await event.action()
            happened.append((second, event.label))
        }
        let result = try await load.result
        try await fleet.cluster[2].waitReady()

        // Errors by the window each event opens (until the next event or the end).
        let boundaries = [0.0] + happened.map(\.second) + [total]
        let labels = ["steady load, admin edits"] + happened.map(\.label)
        var rows: [[String]] = []
        var outageErrors = 0
        var nodeErrors = 0
        for (index, label) in labels.enumerated() {
            // Events start on whole seconds (a few milliseconds late), so each one-second bucket lies in one window.
            let from = Int(boundaries[index]), to = index + 1 == labels.count ? Int(total.rounded(.up)) : Int(boundaries[index + 1])
            let seconds = result.timeline.filter { $0.second >= from && $0.second < to }
            let errors = seconds.reduce(0) { $0 + $1.errors }
            let requests = seconds.reduce(0) { $0 + $1.requests }
            let lastBad = seconds.last { $0.errors > 0 }?.second
            let recovery = lastBad.map { Double($0 + 1) - boundaries[index] }
            let worstP99 = seconds.map(\.p99).max() ?? 0
            // The issue's goal concerns Redis and MariaDB; a SIGKILLed node loses the requests it was serving.
            if labels[index].contains("Redis") || labels[index].contains("MariaDB") { outageErrors += errors } else if index > 0 { nodeErrors += errors }
            var kinds: [String: Int] = [:]
            for second in seconds { for (status, count) in second.statuses where !status.hasPrefix("2") { kinds[status, default: 0] += count } }
            rows.append([label, String(format: "%.1f s", boundaries[index]), "\(requests)", "\(errors)", Format.statuses(kinds),
                         recovery.map { String(format: "%.0f s", max($0, 0)) } ?? "none needed", Format.ms(worstP99)])
        }
        let sortedPropagation = propagation.sorted()
        func percentile(_ p: Double) -> Double {
            sortedPropagation.isEmpty ? 0 : sortedPropagation[min(sortedPropagation.count - 1, Int(Double(sortedPropagation.count - 1) * p))]
        }

        var report = ScenarioReport(
            number: 5, title: "Chaos under steady load through 3 nodes",
            setup: "Open loop at \(Int(rate)) req/s for \(Int(total)) s through nginx and 3 enterprise nodes. First \(edits) admin edits "
                + "(a config switched on and off on node 1, timed until nodes 2 and 3 both answer accordingly), then the events below. "
                + "Errors are counted per window, from one event to the next, by intended send time."
        )
        report.tables = [
            ReportTable(caption: "Errors per event window", columns: ["window", "starts at", "requests", "errors", "kinds",
                                                                      "clean again after", "worst p99 ms"], rows: rows),
            ReportTable(caption: "Admin edit propagation to both other nodes", columns: ["edits", "p50 ms", "p99 ms", "max ms"],
                        rows: [["\(propagation.count)", Format.ms(percentile(0.5)), Format.ms(percentile(0.99)), Format.ms(sortedPropagation.last ?? 0)]]),
        ]
        report.goals = [
            GoalCheck(goal: "zero errors attributable to the Redis and MariaDB outages", met: outageErrors == 0,
                      measured: "\(outageErrors) errors in \(result.requests) requests"),
            GoalCheck(goal: "a SIGKILLed node costs at most the requests it had in flight (about rate × p99 ÷ nodes)",
                      met: Double(nodeErrors) <= max(2, rate * result.latency.p99 / 1000 / 3 * 2),
                      measured: "\(nodeErrors) errors"),
        ]
        report.notes = ["Overall: \(Format.statuses(result.outcomes)); p50 \(Format.ms(result.latency.p50)) ms, "
            + "p99 \(Format.ms(result.latency.p99)) ms, p99.9 \(Format.ms(result.latency.p999)) ms."]
        report.charts = [ChartSpec(
            file: "chaos-timeline.png", kind: "timeline", title: "Latency per second through chaos (\(Int(rate)) req/s)", yLabel: "ms",
            seconds: result.timeline.map { Double($0.second) },
            series: [.init(name: "p50", values: result.timeline.map(\.p50)), .init(name: "p99", values: result.timeline.map(\.p99))],
            counts: .init(name: "errors per second", values: result.timeline.map { Double($0.errors) }),
            events: happened.map { .init(second: $0.second, label: $0.label) }, logScale: true
        )]
        return report
    }
}
