import LoadDriver
import MockUpstream

/// 2. Keys with a per-second quota at the provider, driven at 90 % of the pool's combined quota through three
/// nodes: clients should never see a 429, and the keys should share the load evenly.
enum QuotaScenario {
    static func run(_ context: ScenarioContext) async throws -> ScenarioReport {
        let fleet = context.fleet
        let perKey = context.scaled(10.0, smoke: 5.0)
        let rate = perKey * 10 * 0.9
        let duration = context.options.window * 3
        let admin = try await AdminClient.login(fleet.cluster[0].url)
        var rows: [[String]] = []
        var goals: [GoalCheck] = []
        for (slug, keyRPM, how) in [("quota-paced", Int(perKey * 60), "key_rpm = 60 × R (the operator states the quota)"),
                                    ("quota-learned", 0, "no key_rpm (the rotator learns from 429s)")] {
            let keys = loadKeys(10, prefix: "sk-\(slug)")
            for key in keys { try await fleet.mock.setProfile(KeyProfile(rateLimitPerSecond: perKey), forKey: key) }
            try await admin.importKeys(keys, configID: try await admin.createConfig(slug: slug, upstream: fleet.mock.baseURL, keyRPM: keyRPM))
            try await Task.sleep(for: .milliseconds(300))
            let result = try await context.run(context.plan(
                "quota · \(slug)", url: context.proxyURL(fleet.balancer.url, slug: slug), mode: .open, connections: 256, rate: rate,
                duration: duration
            ))
            let counters = try await fleet.mock.counters()
            let served = keys.map { counters[$0]?.success ?? 0 }
            let upstream429 = keys.reduce(0) { $0 + (counters[$1]?.rateLimited ?? 0) }
            let spread = Double(served.max() ?? 0) / Double(max(served.min() ?? 0, 1))
            rows.append([how, "\(result.requests)", "\(result.count(status: 429))", "\(upstream429)", "\(served.min() ?? 0)–\(served.max() ?? 0)",
                         String(format: "%.2f", spread), Format.ms(result.latency.p50), Format.ms(result.latency.p99),
                         Format.notOK(result.outcomes)])
            goals.append(GoalCheck(goal: "zero client-visible 429s (\(slug))", met: result.count(status: 429) == 0,
                                   measured: "\(result.count(status: 429)) of \(result.requests)"))
        }
        var report = ScenarioReport(
            number: 2, title: "Quota: 10 keys at R req/s each, driven at 90 % of 10 × R",
            setup: "Each key is limited at the mock to R = \(Int(perKey)) req/s (token bucket, 429 with Retry-After when empty). "
                + "Open loop at \(Int(rate)) req/s for \(Int(duration)) s through nginx and 3 enterprise nodes sharing Redis."
        )
        report.tables = [ReportTable(
            caption: nil,
            columns: ["pool", "requests", "client 429s", "upstream 429s", "served per key (min–max)", "max/min", "p50 ms", "p99 ms", "not 2xx"],
            rows: rows
        )]
        report.goals = goals
        return report
    }
}
