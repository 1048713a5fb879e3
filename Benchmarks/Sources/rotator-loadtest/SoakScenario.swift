import Foundation
import LoadDriver

/// 8. Ten minutes of steady load through the three nodes: memory and file descriptors must not grow.
enum SoakScenario {
    static let rssGrowthBoundMiB = 64
    static let descriptorGrowthBound = 32

    static func run(_ context: ScenarioContext) async throws -> ScenarioReport {
        let fleet = context.fleet
        let duration = context.options.mode == .full ? 600.0 : max(context.options.window * 4, 4)
        let rate = context.scaled(300.0, smoke: 50.0)
        let admin = try await AdminClient.login(fleet.cluster[0].url)
        try await admin.importKeys(loadKeys(20, prefix: "sk-soak"), configID: try await admin.createConfig(slug: "soak", upstream: fleet.mock.baseURL))
        try await Task.sleep(for: .milliseconds(300))
        // Warm first, so the start figure is the node at work, not the node just booted.
        _ = try await context.run(context.plan("soak warm-up", url: context.proxyURL(fleet.balancer.url, slug: "soak"), mode: .open,
                                               connections: 512, rate: rate, duration: min(10, duration / 4), warmup: 0))
        let start = fleet.cluster.map { ProcessFootprint.of(pid: $0.process.pid) }
        let result = try await context.run(context.plan("soak", url: context.proxyURL(fleet.balancer.url, slug: "soak"), mode: .open,
                                                        connections: 512, rate: rate, duration: duration, warmup: 0))
        let end = fleet.cluster.map { ProcessFootprint.of(pid: $0.process.pid) }
        var rows: [[String]] = []
        var grew = false
        for (index, (first, last)) in zip(start, end).enumerated() {
            guard let first, let last else {
                rows.append(["node \(index + 1)", "–", "–", "–", "–"])
                continue
            }
            let growth = (last.rssKiB - first.rssKiB) / 1024
            if growth > Self.rssGrowthBoundMiB || last.fileDescriptors - first.fileDescriptors > Self.descriptorGrowthBound { grew = true }
            rows.append(["node \(index + 1)", "\(first.rssKiB / 1024) MiB", "\(last.rssKiB / 1024) MiB", "\(first.fileDescriptors)", "\(last.fileDescriptors)"])
        }
        var report = ScenarioReport(
            number: 8, title: "Soak: \(Int(duration)) s steady",
            setup: "Open loop at \(Int(rate)) req/s through nginx and 3 enterprise nodes for \(Int(duration)) s"
                + (context.options.mode == .full ? "." : " (the full mode runs 600 s; this run is shorter).")
        )
        report.tables = [ReportTable(caption: nil, columns: ["node", "RSS start", "RSS end", "fds start", "fds end"], rows: rows)]
        report.goals = [
            GoalCheck(goal: "RSS grows less than \(Self.rssGrowthBoundMiB) MiB and open fds by less than \(Self.descriptorGrowthBound) per node",
                      met: !grew, measured: grew ? "grew beyond the bound" : "within the bound"),
            GoalCheck(goal: "every request answered 2xx", met: result.failed == 0, measured: "\(result.failed) not 2xx of \(result.requests)"),
        ]
        report.notes = ["p50 \(Format.ms(result.latency.p50)) ms, p99 \(Format.ms(result.latency.p99)) ms, p99.9 \(Format.ms(result.latency.p999)) ms."]
        return report
    }
}
