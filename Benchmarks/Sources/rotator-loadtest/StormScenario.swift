import Foundation
import LoadDriver

/// 6. Every key answers 429 at once for a while (an account- or IP-wide limit), then recovers: no key may end
/// up invalid, clients get 429s with a truthful Retry-After, and throughput returns within seconds.
enum StormScenario {
    static func run(_ context: ScenarioContext) async throws -> ScenarioReport {
        let fleet = context.fleet
        let storm = context.scaled(10, smoke: 4)
        let before = context.scaled(5.0, smoke: 2.0)
        let after = context.scaled(10.0, smoke: 5.0)
        let total = before + Double(storm) + after
        let rate = context.scaled(100.0, smoke: 40.0)
        let admin = try await AdminClient.login(fleet.cluster[0].url)
        let configID = try await admin.createConfig(slug: "storm", upstream: fleet.mock.baseURL)
        try await admin.importKeys(loadKeys(10, prefix: "sk-storm"), configID: configID)
        try await Task.sleep(for: .milliseconds(300))

        let started = ContinuousClock.now
        let load = context.runInBackground(context.plan("429 storm", url: context.proxyURL(fleet.balancer.url, slug: "storm"), mode: .open,
                                                        connections: 1024, rate: rate, duration: total, warmup: 0))
        try await Task.sleep(until: started + .milliseconds(Int64(before * 1000)), clock: .continuous)
        let stormStart = (ContinuousClock.now - started).seconds
        try await fleet.mock.startStorm(seconds: storm)
        let stormEnd = stormStart + Double(storm)
        let result = try await load.result
        let statuses = try await admin.keyStatuses(configID: configID)
        let invalid = statuses.filter { $0.status == "invalid" }.count

        // Truthful Retry-After: a request sent at t told to wait RA seconds should come back near the storm's end.
        let stormSeconds = result.timeline.filter { Double($0.second) >= stormStart && Double($0.second) < stormEnd - 1 }
        let offsets = stormSeconds.compactMap { point -> (Double, Double)? in
            guard let low = point.retryAfterMin, let high = point.retryAfterMax else { return nil }
            return (Double(point.second) + Double(low) - stormEnd, Double(point.second + 1) + Double(high) - stormEnd)
        }
        let earliest = offsets.map(\.0).min()
        let latest = offsets.map(\.1).max()
        let duringStorm = result.timeline.filter { Double($0.second) >= stormStart.rounded(.up) && Double($0.second) < stormEnd }
        let stormKinds = duringStorm.reduce(into: [String: Int]()) { kinds, point in
            for (status, count) in point.statuses where status != "200" { kinds[status, default: 0] += count }
        }
        // The first second after the storm from which every second is clean.
        let recovered = result.timeline.first { point in
            Double(point.second) >= stormEnd && result.timeline.allSatisfy { $0.second < point.second || $0.errors == 0 }
        }
        let recovery = recovered.map { Double($0.second) - stormEnd }

        var report = ScenarioReport(
            number: 6, title: "429 storm: every key limited for \(storm) s",
            setup: "Open loop at \(Int(rate)) req/s for \(Int(total)) s through nginx and 3 enterprise nodes; at \(Format.seconds(stormStart)) "
                + "the mock answers 429 for every key for \(storm) s, with Retry-After set to the storm's remaining seconds."
        )
        report.tables = [ReportTable(
            caption: nil,
            columns: ["requests", "not 2xx during the storm", "429s without Retry-After", "client retry time vs storm end",
                      "keys invalid after", "full throughput again after the storm's end"],
            rows: [["\(result.requests)", Format.statuses(stormKinds), "\(result.retryAfter?.missing ?? 0)",
                    earliest.map { String(format: "%+.0f s … %+.0f s", $0.rounded() + 0, (latest ?? $0).rounded() + 0) } ?? "–", "\(invalid) of \(statuses.count)",
                    recovery.map { String(format: "%.0f s", max($0, 0)) } ?? "not within the run"]]
        )]
        let only429 = stormKinds.keys.allSatisfy { $0 == "429" }
        report.goals = [
            GoalCheck(goal: "no key ends up invalid", met: invalid == 0, measured: "\(invalid)"),
            GoalCheck(goal: "client errors during the storm are 429s with Retry-After", met: only429 && (result.retryAfter?.missing ?? 0) == 0,
                      measured: Format.statuses(stormKinds)),
            GoalCheck(goal: "Retry-After points at the storm's end (a client waiting it out is not sent back more than 2 s early or late)",
                      met: earliest.map { $0 >= -2 } == true && latest.map { $0 <= 2 } == true,
                      measured: earliest.map { String(format: "%+.0f s … %+.0f s", $0.rounded() + 0, (latest ?? $0).rounded() + 0) } ?? "no 429s seen"),
            GoalCheck(goal: "full throughput within a few seconds of the storm's end", met: (recovery ?? .infinity) <= 3,
                      measured: recovery.map { String(format: "%.0f s", max($0, 0)) } ?? "not within the run"),
        ]
        report.charts = [ChartSpec(
            file: "storm-timeline.png", kind: "timeline", title: "Answers per second through a \(storm) s 429 storm", yLabel: "answers/s",
            seconds: result.timeline.map { Double($0.second) },
            series: [.init(name: "2xx", values: result.timeline.map { Double($0.statuses["200"] ?? 0) }),
                     .init(name: "429", values: result.timeline.map { Double($0.statuses["429"] ?? 0) })],
            events: [.init(second: stormStart, label: "storm starts"), .init(second: stormEnd, label: "storm ends")]
        )]
        return report
    }
}
