import LoadDriver

/// 7. A pool of 10 000 keys: batch import time, and selection throughput and latency against a 10-key pool.
enum BigPoolScenario {
    static func run(_ context: ScenarioContext) async throws -> ScenarioReport {
        let fleet = context.fleet
        let size = context.scaled(10_000, smoke: 2_000)
        let connections = context.scaled(32, smoke: 8)
        var rows: [[String]] = []
        for (mode, node) in [("default", fleet.defaultNode), ("enterprise", fleet.cluster[0])] {
            let admin = try await AdminClient.login(node.url)
            let small = try await admin.createConfig(slug: "pool-small", upstream: fleet.mock.baseURL)
            let smallImport = try await admin.importKeys(loadKeys(10, prefix: "sk-small-\(mode)"), configID: small)
            let big = try await admin.createConfig(slug: "pool-big", upstream: fleet.mock.baseURL)
            let bigImport = try await admin.importKeys(loadKeys(size, prefix: "sk-big-\(mode)"), configID: big)
            try await Task.sleep(for: .seconds(1))
            let smallRun = try await context.run(context.plan("\(mode) · 10 keys", url: context.proxyURL(node.url, slug: "pool-small"),
                                                              mode: .closed, connections: connections))
            let bigRun = try await context.run(context.plan("\(mode) · \(size) keys", url: context.proxyURL(node.url, slug: "pool-big"),
                                                            mode: .closed, connections: connections))
            for (keys, seconds, result) in [(10, smallImport, smallRun), (size, bigImport, bigRun)] {
                rows.append([mode, "\(keys)", Format.seconds(seconds), Format.rate(result.throughput),
                             Format.ratio(result.throughput, to: smallRun.throughput), Format.ms(result.latency.p50), Format.ms(result.latency.p99),
                             Format.notOK(result.outcomes)])
            }
        }
        var report = ScenarioReport(
            number: 7, title: "Big pools: \(size) keys in one pool",
            setup: "Keys imported through the admin API's batch endpoint (encrypted, fingerprinted, stored; enterprise mode also seeds "
                + "Redis). Then closed loop, \(connections) connections, \(Int(context.options.window)) s on each pool of one node."
        )
        report.tables = [ReportTable(caption: nil, columns: ["mode", "keys", "import", "req/s", "× 10-key pool", "p50 ms", "p99 ms", "not 2xx"],
                                     rows: rows)]
        return report
    }
}
