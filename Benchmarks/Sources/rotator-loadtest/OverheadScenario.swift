import LoadDriver

/// 1. What each hop costs: driver -> mock direct, -> nginx reference proxy, -> a bare SwiftNIO relay (the Swift
/// baseline), -> one default node, -> one enterprise node, -> three enterprise nodes behind nginx. Closed loop for the
/// ceiling (the project's driver, and Debian's wrk with CPU time and context switches per request read from /proc),
/// open loop at a fixed rate for the latency each hop adds.
enum OverheadScenario {
    static func run(_ context: ScenarioContext) async throws -> ScenarioReport {
        let fleet = context.fleet
        let keys = loadKeys(10, prefix: "sk-overhead")
        let defaultAdmin = try await AdminClient.login(fleet.defaultNode.url)
        try await defaultAdmin.importKeys(keys, configID: try await defaultAdmin.createConfig(slug: "overhead", upstream: fleet.mock.baseURL))
        let clusterAdmin = try await AdminClient.login(fleet.cluster[0].url)
        try await clusterAdmin.importKeys(keys, configID: try await clusterAdmin.createConfig(slug: "overhead", upstream: fleet.mock.baseURL))
        try await Task.sleep(for: .milliseconds(300))

        let direct = [["Authorization", "Bearer \(keys[0])"]]
        var targets: [(name: String, url: String, headers: [[String]], pids: [Int32])] = [
            ("direct to mock", fleet.mock.baseURL + "/v1/chat/completions", direct, [fleet.mock.process.pid]),
            ("nginx reference proxy", fleet.reference.url + "/v1/chat/completions", [], [fleet.reference.process.pid]),
            ("bare Swift relay", "http://127.0.0.1:\(fleet.bareRelayPort)/v1/chat/completions", [], [fleet.bareRelay.pid]),
            ("rotator, default mode", context.proxyURL(fleet.defaultNode.url, slug: "overhead"), ScenarioContext.proxyAuth,
             [fleet.defaultNode.process.pid]),
            ("rotator, enterprise mode", context.proxyURL(fleet.cluster[0].url, slug: "overhead"), ScenarioContext.proxyAuth,
             [fleet.cluster[0].process.pid]),
            ("3 enterprise nodes behind nginx", context.proxyURL(fleet.balancer.url, slug: "overhead"), ScenarioContext.proxyAuth,
             [fleet.balancer.process.pid] + fleet.cluster.map(\.process.pid)),
        ]
        // Another build's default node (`--baseline-bin`) last, so the rows above keep their places.
        if let baseline = fleet.baselineNode {
            let admin = try await AdminClient.login(baseline.url)
            try await admin.importKeys(keys, configID: try await admin.createConfig(slug: "overhead", upstream: fleet.mock.baseURL))
            targets.append(("rotator, default mode, baseline build", context.proxyURL(baseline.url, slug: "overhead"), ScenarioContext.proxyAuth,
                            [baseline.process.pid]))
        }
        let connections = context.scaled(32, smoke: 8)
        let rate = context.scaled(1000.0, smoke: 200.0)
        var closed: [LoadResult] = []
        var open: [LoadResult] = []
        for target in targets {
            closed.append(try await context.run(context.plan("closed · \(target.name)", url: target.url, headers: target.headers,
                                                             mode: .closed, connections: connections)))
        }
        // Debian's wrk, one thread: the driver's own CPU is not what is measured; each target's CPU and context switches
        // per request come from /proc (the mock's own share is in the direct row).
        var wrk: [WrkRun] = []
        if WrkRun.isAvailable {
            for target in targets {
                wrk.append(try WrkRun.run(url: target.url, headers: target.headers, body: ScenarioContext.chatBody, connections: connections,
                                          seconds: max(1, Int(context.options.window)), directory: fleet.directory, measuring: target.pids))
            }
        }
        for target in targets {
            open.append(try await context.run(context.plan("open \(Int(rate))/s · \(target.name)", url: target.url, headers: target.headers,
                                                           mode: .open, connections: 512, rate: rate)))
        }

        var report = ScenarioReport(
            number: 1, title: "Overhead per hop",
            setup: "Each target serves the same OpenAI chat completion from the mock (10 keys in the pool). Closed loop: \(connections) "
                + "connections sending back to back for \(Int(context.options.window)) s. Open loop: \(Int(rate)) requests/s on a fixed "
                + "schedule, latency counted from the intended send time. Ratios are to the direct run of the same table."
        )
        let baseThroughput = closed[0].throughput
        let referenceThroughput = closed[1].throughput
        report.tables.append(ReportTable(
            caption: "Closed loop, \(connections) connections: the throughput ceiling",
            columns: ["target", "req/s", "× direct", "× nginx reference", "p50 ms", "p99 ms", "not 2xx"],
            rows: zip(targets, closed).map { target, result in
                [target.name, Format.rate(result.throughput), Format.ratio(result.throughput, to: baseThroughput),
                 Format.ratio(result.throughput, to: referenceThroughput), Format.ms(result.latency.p50), Format.ms(result.latency.p99),
                 Format.notOK(result.outcomes)]
            }
        ))
        if !wrk.isEmpty {
            let nginxCPU = wrk[1].cpuMicrosecondsPerRequest
            report.tables.append(ReportTable(
                caption: "wrk -t1 -c\(connections), \(max(1, Int(context.options.window))) s: throughput, and what the target process spends per request",
                columns: ["target", "req/s", "× nginx reference", "CPU µs / request", "× nginx CPU", "context switches / request"],
                rows: zip(targets, wrk).map { target, run in
                    [target.name, Format.rate(run.throughput), Format.ratio(run.throughput, to: wrk[1].throughput),
                     String(format: "%.0f", run.cpuMicrosecondsPerRequest), Format.ratio(run.cpuMicrosecondsPerRequest, to: nginxCPU),
                     String(format: "%.2f", run.contextSwitchesPerRequest)]
                }
            ))
        }
        if let baseline = fleet.baselineNode, WrkRun.isAvailable {
            report.tables.append(try await ScrubCost.table(context, nodes: [("rotator, default mode", fleet.defaultNode),
                                                                              ("rotator, default mode, baseline build", baseline)],
                                                           connections: 4))
        }
        let base = open[0].latency
        report.tables.append(ReportTable(
            caption: "Open loop at \(Int(rate)) req/s: latency and what each target adds to the direct run",
            columns: ["target", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "added p50 ms", "added p99 ms", "× direct p99", "not 2xx"],
            rows: zip(targets, open).map { target, result in
                [target.name, Format.ms(result.latency.p50), Format.ms(result.latency.p90), Format.ms(result.latency.p99),
                 Format.ms(result.latency.p999), Format.ms(result.latency.p50 - base.p50), Format.ms(result.latency.p99 - base.p99),
                 Format.ratio(result.latency.p99, to: base.p99), Format.notOK(result.outcomes)]
            }
        ))
        // wrk's figures when it ran (the driver costs CPU of its own), the driver's otherwise.
        let throughputs = wrk.isEmpty ? closed.map(\.throughput) : wrk.map(\.throughput)
        let defaultShare = throughputs[3] / max(throughputs[1], 1)
        let enterpriseShare = throughputs[4] / max(throughputs[1], 1)
        let addedP50 = open[3].latency.p50 - base.p50
        let addedP99 = open[3].latency.p99 - base.p99
        report.goals = [
            GoalCheck(goal: "default node ≥ 80 % of the nginx reference's throughput", met: defaultShare >= 0.8,
                      measured: String(format: "%.0f %%", defaultShare * 100)),
            GoalCheck(goal: "enterprise node ≥ 70 % of the nginx reference's throughput", met: enterpriseShare >= 0.7,
                      measured: String(format: "%.0f %%", enterpriseShare * 100)),
            GoalCheck(goal: "default node adds < 0.3 ms at p50 (open loop)", met: addedP50 < 0.3, measured: Format.ms(addedP50) + " ms"),
            GoalCheck(goal: "default node adds < 1 ms at p99 (open loop)", met: addedP99 < 1, measured: Format.ms(addedP99) + " ms"),
        ]
        if !wrk.isEmpty {
            let cpuRatio = wrk[3].cpuMicrosecondsPerRequest / max(wrk[1].cpuMicrosecondsPerRequest, 0.001)
            report.goals.append(GoalCheck(goal: "default node's CPU per request ≤ 2× nginx's", met: cpuRatio <= 2,
                                          measured: String(format: "%.2f×", cpuRatio)))
        }
        let names = targets.map(\.name)
        report.charts = [
            ChartSpec(file: "overhead-throughput.png", kind: "bars", title: "Closed-loop throughput per target", yLabel: "requests/s",
                      labels: names, series: [.init(name: "req/s", values: closed.map(\.throughput))]),
            ChartSpec(file: "overhead-latency.png", kind: "bars", title: "Open-loop latency at \(Int(rate)) req/s", yLabel: "ms",
                      labels: names, series: [
                          .init(name: "p50", values: open.map(\.latency.p50)), .init(name: "p90", values: open.map(\.latency.p90)),
                          .init(name: "p99", values: open.map(\.latency.p99)), .init(name: "p99.9", values: open.map(\.latency.p999)),
                      ], logScale: true),
        ]
        report.notes.append("The driver, the mock, the proxies and nginx share the machine's cores: every figure includes that "
            + "contention, the same for every target.")
        return report
    }
}
