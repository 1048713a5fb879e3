import Foundation
import LoadDriver
import MockUpstream

/// 9. What format conversion costs: an OpenAI client over an Anthropic upstream against Anthropic clients passing
/// through to the same upstream, on one default node in the same run, whole answers and streams. Throughput, latency
/// and the node's CPU time per request (from /proc) of each, and the difference.
enum ConversionScenario {
    /// One of the four measured runs.
    struct Run: Sendable {
        var name: String
        /// Client format → upstream format.
        var formats: String
        var url: String
        var headers: [[String]]
        var body: String
        var stream: Bool
        var check: ConversionAnswerCheck
    }

    /// Streamed answers: this many text deltas, sent back to back (no pause: the cost per event is what is measured).
    static let streamChunks = 20

    static func run(_ context: ScenarioContext) async throws -> ScenarioReport {
        let fleet = context.fleet
        let node = fleet.defaultNode
        let passKeys = loadKeys(4, prefix: "sk-ant-pass")
        let convertKeys = loadKeys(4, prefix: "sk-ant-conv")
        for key in passKeys + convertKeys {
            try await fleet.mock.setProfile(KeyProfile(streamChunks: streamChunks, chunkDelayMilliseconds: 0), forKey: key)
        }
        let admin = try await AdminClient.login(node.url)
        let passID = try await admin.createConfig(slug: "conv-pass", upstream: fleet.mock.baseURL, apiFormat: "anthropic_native")
        try await admin.importKeys(passKeys, configID: passID)
        let convertID = try await admin.createConfig(slug: "conv-openai", upstream: fleet.mock.baseURL, apiFormat: "anthropic_native",
                                                     outputFormat: "openai")
        try await admin.importKeys(convertKeys, configID: convertID)
        try await Task.sleep(for: .milliseconds(300))

        let anthropicClient = ScenarioContext.proxyAuth + [["anthropic-version", "2023-06-01"]]
        let messagesURL = "\(node.url)/llm/conv-pass/v1/messages"
        let chatURL = context.proxyURL(node.url, slug: "conv-openai")
        let (passing, converting) = ("Anthropic → Anthropic", "OpenAI → Anthropic")
        let runs = [
            Run(name: "pass-through, whole", formats: passing, url: messagesURL, headers: anthropicClient, body: ConversationBody.anthropic(stream: false),
                stream: false, check: .anthropicMessage),
            Run(name: "converted, whole", formats: converting, url: chatURL, headers: ScenarioContext.proxyAuth, body: ConversationBody.openAI(stream: false),
                stream: false, check: .openAIChatCompletion),
            Run(name: "pass-through, streamed", formats: passing, url: messagesURL, headers: anthropicClient, body: ConversationBody.anthropic(stream: true),
                stream: true, check: .anthropicStream(chunks: streamChunks)),
            Run(name: "converted, streamed", formats: converting, url: chatURL, headers: ScenarioContext.proxyAuth, body: ConversationBody.openAI(stream: true),
                stream: true, check: .openAIChunkStream(chunks: streamChunks)),
        ]

        // Every kind answered right before anything is measured; the upstream served each in its own dialect.
        let before = try await fleet.mock.counters()
        var answerBytes: [Int] = []
        for run in runs {
            let reply = try await HTTP.shared.send(.POST, run.url, headers: run.headers.map { ($0[0], $0[1]) }, body: run.body)
            if let problem = run.check.problem(status: reply.status, contentType: reply.headers.first(name: "content-type"), body: reply.text) {
                throw RunnerError("pre-check of '\(run.name)' wants \(run.check.shapeName): \(problem)")
            }
            answerBytes.append(reply.body.readableBytes)
        }
        let after = try await fleet.mock.counters()
        for (keys, name) in [(passKeys, "pass-through"), (convertKeys, "converting")] {
            let served = keys.map { (after[$0]?.success ?? 0) - (before[$0]?.success ?? 0) }.reduce(0, +)
            guard served == 2 else { throw RunnerError("pre-check: the mock served \(served) of the \(name) config's 2 requests in its own dialect") }
        }

        let connections = context.scaled(32, smoke: 8)
        let seconds = max(1, Int(context.options.window))
        var measured: [ClosedLoopMeasurement] = []
        for run in runs {
            if context.options.mode != .smoke { _ = try await measure(run, seconds: max(1, Int(context.options.warmup)), connections: connections, context) }
            measured.append(try await measure(run, seconds: seconds, connections: connections, context))
        }

        let driver = WrkRun.isAvailable ? "wrk -t1 -c\(connections)" : "rotator-load, \(connections) connections"
        var report = ScenarioReport(
            number: 9, title: "Format conversion: OpenAI clients over an Anthropic upstream, against pass-through",
            setup: "One default node, two configs over the mock's Anthropic dialect (`/v1/messages`, `x-api-key`): `conv-pass` "
                + "(`api_format` anthropic_native, no `output_format`), whose clients send Anthropic Messages requests that pass through, "
                + "and `conv-openai` (`output_format` openai), whose clients send OpenAI Chat Completions requests the node converts to "
                + "Anthropic and whose answers it converts back. The same conversation in each (system prompt, three messages: "
                + "\(ConversationBody.anthropic(stream: false).utf8.count) bytes as Anthropic, \(ConversationBody.openAI(stream: false).utf8.count) "
                + "as OpenAI), the same answers from the mock (streams: \(streamChunks) text deltas back to back). Closed loop, \(driver), "
                + "\(seconds) s per run\(context.options.mode == .smoke ? "" : " after \(max(1, Int(context.options.warmup))) s of warm-up"); "
                + "CPU is the node process's (every thread, user + system) from /proc, divided by the answers in the run. "
                + "A pre-check first asked each kind once and checked the answer's shape."
        )
        report.tables.append(ReportTable(
            caption: "The four runs",
            columns: ["run", "client → upstream", "req/s", "p50 ms", "p99 ms", "node CPU µs / request", "answer bytes", "not 2xx", "transport errors"],
            rows: zip(runs, zip(measured, answerBytes)).map { run, result in
                [run.name, run.formats,
                 Format.rate(result.0.throughput), Format.ms(result.0.p50), Format.ms(result.0.p99),
                 String(format: "%.0f", result.0.cpuMicrosecondsPerRequest), "\(result.1)", "\(result.0.notOK)", "\(result.0.transportErrors)"]
            }
        ))
        let whole = (pass: measured[0], converted: measured[1])
        let streamed = (pass: measured[2], converted: measured[3])
        func comparison(_ name: String, _ pair: (pass: ClosedLoopMeasurement, converted: ClosedLoopMeasurement)) -> [String] {
            [name, String(format: "%.0f", pair.pass.cpuMicrosecondsPerRequest), String(format: "%.0f", pair.converted.cpuMicrosecondsPerRequest),
             String(format: "%+.0f", pair.converted.cpuMicrosecondsPerRequest - pair.pass.cpuMicrosecondsPerRequest),
             Format.ratio(pair.converted.throughput, to: pair.pass.throughput)]
        }
        report.tables.append(ReportTable(
            caption: "What conversion adds",
            columns: ["answers", "pass-through CPU µs / request", "converted CPU µs / request", "converted − pass-through µs", "converted ÷ pass-through req/s"],
            rows: [comparison("whole", whole), comparison("streamed (\(streamChunks) deltas)", streamed)]
        ))
        let addedWhole = whole.converted.cpuMicrosecondsPerRequest - whole.pass.cpuMicrosecondsPerRequest
        let failures = measured.map(\.failed).reduce(0, +)
        report.goals = [
            GoalCheck(goal: "conversion adds < 100 µs of CPU per whole (non-streamed) ~1 KB request", met: addedWhole < 100,
                      measured: String(format: "%+.0f µs (%.0f → %.0f)", addedWhole, whole.pass.cpuMicrosecondsPerRequest,
                                       whole.converted.cpuMicrosecondsPerRequest)),
            GoalCheck(goal: "every answer of the four runs 2xx", met: failures == 0,
                      measured: "\(failures) not 2xx or failed of \(measured.map(\.requests).reduce(0, +))"),
        ]
        report.notes.append("Read the CPU per request and its difference, not the absolute rates: the driver, the mock and the node "
            + "share the machine's cores. A streamed request's difference covers converting all of its \(streamChunks + 5) events.")
        report.charts = [
            ChartSpec(file: "conversion-cpu.png", kind: "bars", title: "Node CPU per request: pass-through and converted", yLabel: "µs / request",
                      labels: ["whole", "streamed"], series: [
                          .init(name: "pass-through", values: [whole.pass.cpuMicrosecondsPerRequest, streamed.pass.cpuMicrosecondsPerRequest]),
                          .init(name: "converted", values: [whole.converted.cpuMicrosecondsPerRequest, streamed.converted.cpuMicrosecondsPerRequest]),
                      ]),
        ]
        return report
    }

    /// One closed-loop run of `run`: wrk where it is installed (it costs little CPU of its own), the project's driver
    /// otherwise; the node's CPU time around it.
    private static func measure(_ run: Run, seconds: Int, connections: Int, _ context: ScenarioContext) async throws -> ClosedLoopMeasurement {
        let pid = context.fleet.defaultNode.process.pid
        if WrkRun.isAvailable {
            return ClosedLoopMeasurement(wrk: try WrkRun.run(url: run.url, headers: run.headers, body: run.body, connections: connections,
                                                              seconds: seconds, directory: context.fleet.directory, measuring: [pid]))
        }
        let start = ProcessCost.sample([pid])
        let result = try await context.run(context.plan("conversion · \(run.name)", url: run.url, headers: run.headers, body: run.body,
                                                        mode: .closed, connections: connections, duration: Double(seconds), warmup: 0,
                                                        stream: run.stream))
        return ClosedLoopMeasurement(load: result, cost: ProcessCost.sample([pid]) - start)
    }
}
