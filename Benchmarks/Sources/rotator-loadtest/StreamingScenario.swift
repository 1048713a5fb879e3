import LoadDriver
import MockUpstream

/// 4. Many concurrent SSE streams: time to first byte added by the rotator, chunk gaps kept (no buffering),
/// memory per open stream.
enum StreamingScenario {
    static func run(_ context: ScenarioContext) async throws -> ScenarioReport {
        let fleet = context.fleet
        let streams = context.scaled(1000, smoke: 50)
        let chunks = 50
        let gap = 20
        let keys = loadKeys(10, prefix: "sk-stream")
        for key in keys { try await fleet.mock.setProfile(KeyProfile(streamChunks: chunks, chunkDelayMilliseconds: gap), forKey: key) }
        let admin = try await AdminClient.login(fleet.defaultNode.url)
        try await admin.importKeys(keys, configID: try await admin.createConfig(slug: "stream", upstream: fleet.mock.baseURL))
        try await Task.sleep(for: .milliseconds(300))

        let duration = max(context.options.window, 3)
        let direct = try await context.run(context.plan(
            "streams · direct", url: fleet.mock.baseURL + "/v1/chat/completions", headers: [["Authorization", "Bearer \(keys[0])"]],
            body: ScenarioContext.streamBody, mode: .closed, connections: streams, duration: duration, stream: true
        ))
        let pid = fleet.defaultNode.process.pid
        let idle = ProcessFootprint.of(pid: pid)?.rssKiB ?? 0
        let (proxied, peak) = try await withPeakMemory(of: pid) {
            try await context.run(context.plan(
                "streams · rotator", url: context.proxyURL(fleet.defaultNode.url, slug: "stream"), body: ScenarioContext.streamBody,
                mode: .closed, connections: streams, duration: duration, stream: true
            ))
        }
        let perStream = Double(max(peak - idle, 0)) / Double(streams)

        var report = ScenarioReport(
            number: 4, title: "Streaming: \(streams) concurrent SSE streams of \(chunks) chunks",
            setup: "The mock sends \(chunks) chunks \(gap) ms apart per answer. \(streams) connections each keep one stream open at "
                + "all times for \(Int(duration)) s, directly and through one default-mode node."
        )
        func row(_ name: String, _ result: LoadResult) -> [String] {
            [name, "\(result.succeeded)", Format.ms(result.ttfb?.p50 ?? 0), Format.ms(result.ttfb?.p99 ?? 0), Format.ms(result.chunkGap?.p50 ?? 0),
             Format.ms(result.chunkGap?.p99 ?? 0), String(format: "%.1f", result.chunksPerResponse ?? 0),
             Format.notOK(result.outcomes)]
        }
        report.tables = [
            ReportTable(caption: nil, columns: ["target", "streams completed", "TTFB p50 ms", "TTFB p99 ms", "chunk gap p50 ms",
                                                "chunk gap p99 ms", "reads per stream", "not 2xx"],
                        rows: [row("direct to mock", direct), row("rotator, default mode", proxied)]),
            ReportTable(caption: "Rotator memory", columns: ["RSS idle", "RSS peak", "per open stream"],
                        rows: [["\(idle / 1024) MiB", "\(peak / 1024) MiB", String(format: "%.1f KiB", perStream)]]),
        ]
        let addedTTFB = (proxied.ttfb?.p50 ?? 0) - (direct.ttfb?.p50 ?? 0)
        let gapP50 = proxied.chunkGap?.p50 ?? 0
        report.goals = [
            GoalCheck(goal: "chunks keep their \(gap) ms spacing through the rotator (p50 gap within 25 % of the mock's)",
                      met: abs(gapP50 - Double(gap)) <= Double(gap) * 0.25, measured: Format.ms(gapP50) + " ms"),
            GoalCheck(goal: "every stream answered 2xx", met: proxied.failed == 0, measured: "\(proxied.failed) not 2xx of \(proxied.requests)"),
        ]
        report.notes = ["TTFB added by the rotator at p50: \(Format.ms(addedTTFB)) ms (p99 \(Format.ms((proxied.ttfb?.p99 ?? 0) - (direct.ttfb?.p99 ?? 0))) ms)."]
        return report
    }
}
