import Foundation
import LoadDriver
import LocalTestServers

/// 10. Tenants: two client keys on one pool through the 3 enterprise nodes behind nginx. One hammers far over its rpm,
/// the other sends at a steady rate below its limits: the steady one's success rate and p99 should not move when the
/// neighbour hammers, and the hammering one is held to exactly its limit. Then what a client key costs: a default
/// node's CPU per request for a key with every limit set against an operator key of GLOBAL_PROXY_KEYS (wrk, /proc),
/// and the Redis commands per request of an enterprise node for each.
enum TenantsScenario {
    static func run(_ context: ScenarioContext) async throws -> ScenarioReport {
        let fleet = context.fleet
        let admin = try await AdminClient.login(fleet.cluster[0].url)
        try await admin.importKeys(loadKeys(10, prefix: "sk-tenants"), configID: try await admin.createConfig(slug: "tenants", upstream: fleet.mock.baseURL))
        let hammerLimit = context.scaled(600, smoke: 60)
        let hammerRate = context.scaled(200.0, smoke: 50.0)
        let steadyRate = context.scaled(50.0, smoke: 10.0)
        let steadyLimit = Int(steadyRate * 60 * 5)
        // Under a minute, so the hammer's first rolling window never frees: it is admitted exactly its rpm.
        let duration = min(context.options.window * 3, 50)
        // A model allow-list lets the nodes be probed without spending the limits (a model outside it is refused first).
        let steady = try await admin.createClientKey(#"{"name":"tenant-steady","rpm":\#(steadyLimit),"allowed_models":["gpt-*"]}"#)
        let hammer = try await admin.createClientKey(#"{"name":"tenant-hammer","rpm":\#(hammerLimit),"allowed_models":["gpt-*"]}"#)
        for key in [steady, hammer] {
            try await waitUntilKnown(key, slug: "tenants", nodes: fleet.cluster.map(\.url), context: context)
        }
        let url = context.proxyURL(fleet.balancer.url, slug: "tenants")
        func plan(_ label: String, key: CreatedClientKey, rate: Double) -> LoadPlan {
            context.plan("tenants · \(label)", url: url, headers: [["Authorization", "Bearer \(key.secret)"]], mode: .open, connections: 256,
                         rate: rate, duration: duration, warmup: 0)
        }
        let alone = try await context.run(plan("steady alone", key: steady, rate: steadyRate))
        let background = context.runInBackground(plan("steady beside the hammer", key: steady, rate: steadyRate))
        let hammered = try await context.run(plan("hammer", key: hammer, rate: hammerRate))
        let beside = try await background.result
        let admitted = hammered.count(status: 200)

        var report = ScenarioReport(
            number: 10, title: "Tenants: a steady client key beside one hammering far over its rpm",
            setup: "Two client keys on one 10-key pool, through nginx and 3 enterprise nodes sharing Redis. The steady key sends "
                + "\(Int(steadyRate)) req/s open loop (its rpm is \(steadyLimit)); the hammer sends \(Int(hammerRate)) req/s "
                + "(\(Int(hammerRate * 60 / Double(hammerLimit)))× its rpm of \(hammerLimit)). Each run lasts \(Int(duration)) s, under a "
                + "minute, so the hammer's rolling window never frees: it should be admitted exactly \(hammerLimit) times."
        )
        // The range of the 429s' Retry-After, and how many 429s had none.
        let hammerRetry = hammered.retryAfter.flatMap { summary in
            summary.min.map { "\($0)–\(summary.max ?? $0) s, \(summary.missing) without" }
        } ?? "–"
        report.tables.append(ReportTable(
            caption: "The steady key alone and beside the hammer; the hammer",
            columns: ["run", "requests", "success", "p50 ms", "p99 ms", "admitted (200)", "refused (429)", "Retry-After", "other"],
            rows: [("steady alone", alone, "–"), ("steady beside the hammer", beside, "–"), ("hammer", hammered, hammerRetry)].map { name, result, retry in
                [name, "\(result.requests)", String(format: "%.2f %%", result.successRatio * 100), Format.ms(result.latency.p50),
                 Format.ms(result.latency.p99), "\(result.count(status: 200))", "\(result.count(status: 429))",
                 retry, Format.statuses(result.outcomes.filter { !["200", "429"].contains($0.key) })]
            }
        ))
        let p99Bound = alone.latency.p99 * 1.5 + 1
        report.goals = [
            GoalCheck(goal: "the steady key is served every time, alone and beside the hammer",
                      met: alone.succeeded == alone.requests && beside.succeeded == beside.requests && alone.requests > 0,
                      measured: String(format: "%.2f %% and %.2f %%", alone.successRatio * 100, beside.successRatio * 100)),
            GoalCheck(goal: "the steady key's p99 does not move (≤ 1.5 × alone + 1 ms)", met: beside.latency.p99 <= p99Bound,
                      measured: "\(Format.ms(alone.latency.p99)) → \(Format.ms(beside.latency.p99)) ms"),
            GoalCheck(goal: "the hammer is admitted exactly its rpm within the minute (3 nodes)", met: admitted == hammerLimit,
                      measured: "\(admitted) of \(hammered.requests) (rpm \(hammerLimit))"),
        ]
        let seconds = hammered.timeline.map { Double($0.second) }
        let steadyServed = Dictionary(beside.timeline.map { ($0.second, Double($0.statuses["200"] ?? 0)) }) { $0 + $1 }
        report.charts = [
            ChartSpec(file: "tenants-timeline.png", kind: "timeline", title: "Hammer (\(Int(hammerRate)) req/s, rpm \(hammerLimit)) beside the steady key",
                      yLabel: "answers/s", seconds: seconds, series: [
                          .init(name: "hammer admitted/s", values: hammered.timeline.map { Double($0.statuses["200"] ?? 0) }),
                          .init(name: "steady served/s", values: hammered.timeline.map { steadyServed[$0.second] ?? 0 }),
                      ], counts: .init(name: "hammer refused (429)/s", values: hammered.timeline.map { Double($0.statuses["429"] ?? 0) })),
            ChartSpec(file: "tenants-steady-latency.png", kind: "bars", title: "Steady key latency, alone and beside the hammer", yLabel: "ms",
                      labels: ["alone", "beside the hammer"], series: [
                          .init(name: "p50", values: [alone.latency.p50, beside.latency.p50]),
                          .init(name: "p99", values: [alone.latency.p99, beside.latency.p99]),
                      ]),
        ]
        if WrkRun.isAvailable {
            let cost = try await ClientKeyCost.measure(context)
            report.tables += cost.tables
            report.goals += cost.goals
            report.notes.append(cost.note)
        } else {
            report.notes.append("wrk is not installed: the cost of a client key (CPU per request, Redis commands) was not measured.")
        }
        report.notes.append("The driver, nginx, the mock, Redis and the nodes share the machine's cores: the hammer's load moves "
            + "the steady key's latency through the CPU it takes, apart from any limit.")
        return report
    }

    /// Until every node refuses a model outside the key's allow-list (403): the key is known there, no limit spent.
    static func waitUntilKnown(_ key: CreatedClientKey, slug: String, nodes: [String], context: ScenarioContext) async throws {
        let body = #"{"model":"probe-not-allowed","messages":[{"role":"user","content":"hi"}]}"#
        for node in nodes {
            var status = 0
            for _ in 0..<200 where status != 403 {
                status = (try? await HTTP.shared.send(.POST, context.proxyURL(node, slug: slug), headers: [("Authorization", "Bearer \(key.secret)")],
                                                      body: body).status) ?? 0
                if status != 403 { try await Task.sleep(for: .milliseconds(50)) }
            }
            guard status == 403 else { throw RunnerError("client key \(key.id) not known on \(node) within 10 s (last answer \(status))") }
        }
    }
}

/// What a client key costs beside an operator key: the default node's CPU per request (wrk, /proc) and an enterprise
/// node's Redis commands per request (`INFO commandstats`).
enum ClientKeyCost {
    static let everyLimit = #""rpm":1000000000,"tpm":1000000000000,"max_concurrent":100000,"daily_requests":1000000000,"#
        + #""monthly_requests":1000000000,"daily_tokens":1000000000000,"monthly_tokens":1000000000000,"allowed_models":["gpt-*"]"#

    static func measure(_ context: ScenarioContext) async throws -> (tables: [ReportTable], goals: [GoalCheck], note: String) {
        let fleet = context.fleet
        let seconds = max(1, Int(context.options.window))
        let connections = context.scaled(32, smoke: 8)
        let operatorAuth = ScenarioContext.proxyAuth

        // Default node: the same requests with an operator key, a client key without limits, one with only an rpm, and
        // one with every limit, in turn, twice over.
        let defaultAdmin = try await AdminClient.login(fleet.defaultNode.url)
        try await defaultAdmin.importKeys(loadKeys(10, prefix: "sk-ckcost"),
                                          configID: try await defaultAdmin.createConfig(slug: "ck-cost", upstream: fleet.mock.baseURL))
        let bare = try await defaultAdmin.createClientKey(#"{"name":"cost-no-limits"}"#)
        let rpmOnly = try await defaultAdmin.createClientKey(#"{"name":"cost-rpm-only","rpm":1000000000}"#)
        let limited = try await defaultAdmin.createClientKey(#"{"name":"cost-every-limit",\#(everyLimit),"allowed_configs":["ck-cost"]}"#)
        let kinds: [(name: String, auth: [[String]])] = [
            ("operator key (GLOBAL_PROXY_KEYS)", operatorAuth), ("client key, no limits", [["Authorization", "Bearer \(bare.secret)"]]),
            ("client key, rpm only", [["Authorization", "Bearer \(rpmOnly.secret)"]]),
            ("client key, every limit set", [["Authorization", "Bearer \(limited.secret)"]]),
        ]
        let defaultURL = context.proxyURL(fleet.defaultNode.url, slug: "ck-cost")
        var runs = Array(repeating: [WrkRun](), count: kinds.count)
        for _ in 0..<2 {
            for (index, kind) in kinds.enumerated() {
                runs[index].append(try WrkRun.run(url: defaultURL, headers: kind.auth, body: ScenarioContext.chatBody, connections: connections,
                                                  seconds: seconds, directory: fleet.directory, measuring: [fleet.defaultNode.process.pid]))
            }
        }
        func mean(_ runs: [WrkRun], _ value: (WrkRun) -> Double) -> Double { runs.map(value).reduce(0, +) / Double(max(runs.count, 1)) }
        let operatorCPU = mean(runs[0], \.cpuMicrosecondsPerRequest)
        let clientCPU = mean(runs[3], \.cpuMicrosecondsPerRequest)
        let cpuTable = ReportTable(
            caption: "What a client key costs a default node: wrk -t1 -c\(connections), \(seconds) s per run, each kind of key in turn, "
                + "twice over; the node's CPU (user + system, /proc) per request",
            columns: ["key", "req/s", "CPU µs / request (runs)", "CPU µs / request (mean)", "− operator key", "not 2xx + socket errors"],
            rows: zip(kinds, runs).map { kind, runs in
                let cpu = mean(runs, \.cpuMicrosecondsPerRequest)
                return [kind.name, Format.rate(mean(runs, \.throughput)),
                        runs.map { String(format: "%.1f", $0.cpuMicrosecondsPerRequest) }.joined(separator: ", "), String(format: "%.1f", cpu),
                        String(format: "%+.1f", cpu - operatorCPU), "\(runs.map(\.notOK).reduce(0, +) + runs.map(\.socketErrors).reduce(0, +))"]
            }
        )

        // Enterprise node: Redis commands per request, by command, with the background (heartbeats) of an idle window taken off.
        let clusterAdmin = try await AdminClient.login(fleet.cluster[0].url)
        let enterprise = try await clusterAdmin.createClientKey(#"{"name":"cost-every-limit-enterprise",\#(everyLimit)}"#)
        try await TenantsScenario.waitUntilKnown(enterprise, slug: "tenants", nodes: [fleet.cluster[0].url], context: context)
        let enterpriseURL = context.proxyURL(fleet.cluster[0].url, slug: "tenants")
        let idleBefore = commandCalls(port: fleet.redis.port)
        try await Task.sleep(for: .seconds(seconds))
        let idle = commandCalls(port: fleet.redis.port) - idleBefore
        var redisRows: [[String]] = []
        var perRequest: [String: Double] = [:]
        let node = fleet.cluster[0].process.pid
        let redisPID = RedisTestServer.inlineCommand("INFO server", port: fleet.redis.port).flatMap { info in
            info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("process_id:") }.flatMap { Int32($0.dropFirst(11)) }
        }
        for (name, auth) in [("operator key", operatorAuth), ("client key with every limit set", [["Authorization", "Bearer \(enterprise.secret)"]])] {
            let before = commandCalls(port: fleet.redis.port)
            let writesBefore = writeCalls(node)
            let redisBefore = ProcessCost.sample(redisPID.map { [$0] } ?? [])
            let run = try WrkRun.run(url: enterpriseURL, headers: auth, body: ScenarioContext.chatBody, connections: connections, seconds: seconds,
                                     directory: fleet.directory, measuring: [node])
            let writes = writeCalls(node) - writesBefore
            let redisCPU = (ProcessCost.sample(redisPID.map { [$0] } ?? []) - redisBefore).microsecondsPerRequest(run.requests)
            let calls = (commandCalls(port: fleet.redis.port) - before - idle).filter { $0.value > 0 }
            let requests = Double(max(run.requests, 1))
            // What the node sends: script calls (each one atomic step) and plain commands; the rest run inside the scripts.
            let sent = Double(calls.filter { ["evalsha", "eval", "evalsha_ro", "eval_ro", "fcall"].contains($0.key) }.values.reduce(0, +)) / requests
            perRequest[name] = sent
            redisRows.append([name, "\(run.requests)", String(format: "%.2f", sent), String(format: "%.2f", Double(calls.values.reduce(0, +)) / requests),
                              calls.sorted { $0.value > $1.value }.prefix(5).map { "\($0.key) \(String(format: "%.2f", Double($0.value) / requests))" }
                                  .joined(separator: ", "),
                              String(format: "%.2f", Double(writes) / requests), String(format: "%.1f", run.cpuMicrosecondsPerRequest),
                              redisPID == nil ? "–" : String(format: "%.1f", redisCPU)])
        }
        let redisTable = ReportTable(
            caption: "What a client key costs an enterprise node (wrk -t1 -c\(connections), \(seconds) s each): Redis script calls per request "
                + "and every command counted by INFO commandstats (those run inside the scripts too), the idle background of \(seconds) s "
                + "taken off; the node's write system calls per request (/proc/PID/io: to the client, the upstream and Redis — a command "
                + "pipelined with the pool's key choice adds none)",
            columns: ["key", "requests", "Redis script calls / request", "all Redis commands / request", "most frequent (per request)",
                      "node write syscalls / request", "node CPU µs / request", "Redis CPU µs / request"],
            rows: redisRows
        )
        let added = clientCPU - operatorCPU
        let goals = [
            GoalCheck(goal: "a client key with every limit costs a default node ≤ 10 µs more CPU per request", met: added <= 10,
                      measured: String(format: "%+.1f µs (%.1f → %.1f)", added, operatorCPU, clientCPU)),
        ]
        let note = String(format: "Redis script calls per request on an enterprise node: %.2f with an operator key, %.2f with a client key that has "
            + "every limit (the pool's key choice and the admission pipelined with it; the settle rides the key's next admission from "
            + "the same loop, or goes alone when none follows within 2 ms: 3 calls per request before it rode). The write "
            + "system calls per request show the round trips: a pipelined pair is one write.", perRequest["operator key"] ?? 0,
            perRequest["client key with every limit set"] ?? 0)
        return ([cpuTable, redisTable], goals, note)
    }

    /// `syscw` of /proc/PID/io: the write system calls of every thread of the process so far.
    static func writeCalls(_ pid: Int32) -> Int {
        guard let io = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8) else { return 0 }
        return io.split(separator: "\n").first { $0.hasPrefix("syscw:") }.flatMap { Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) } ?? 0
    }

    /// `cmdstat_<name>:calls=N` of `INFO commandstats`, by command (the INFO calls themselves left out).
    static func commandCalls(port: Int) -> [String: Int] {
        guard let info = RedisTestServer.inlineCommand("INFO commandstats", port: port) else { return [:] }
        var calls: [String: Int] = [:]
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_") {
            guard let colon = line.firstIndex(of: ":"), let range = line.range(of: "calls=") else { continue }
            let name = String(line[line.index(line.startIndex, offsetBy: 8)..<colon])
            guard name != "info" else { continue }
            calls[name] = Int(line[range.upperBound...].prefix(while: \.isNumber)) ?? 0
        }
        return calls
    }
}

extension Dictionary where Key == String, Value == Int {
    /// Per-key difference (keys of either side).
    static func - (lhs: [String: Int], rhs: [String: Int]) -> [String: Int] {
        var result = lhs
        for (key, value) in rhs { result[key, default: 0] -= value }
        return result
    }
}

struct CreatedClientKey: Sendable {
    var id: Int
    var secret: String
}

extension AdminClient {
    /// `POST /admin/client-keys` with these JSON fields; the 201 carries the whole secret in `key`, this once.
    func createClientKey(_ fields: String) async throws -> CreatedClientKey {
        let object = try await expectOK(.POST, "/admin/client-keys", body: fields).object()
        guard let id = object["id"] as? Int, let secret = object["key"] as? String else {
            throw RunnerError("creating a client key: no id or key in the answer")
        }
        return CreatedClientKey(id: id, secret: secret)
    }
}
