import Foundation

/// Scenario 1 with a baseline build (`--baseline-bin`): what scrubbing every answer of a generic config costs. Both
/// default nodes (this build's and the baseline's) relay the same 200 KB answer (the mock's echo, padded with
/// embedding-like JSON; read whole, as answers up to 256 KB are) to wrk; the node's CPU per request, and the
/// difference per MB, are the cost.
enum ScrubCost {
    static let answerBytes = 200_000

    static func table(_ context: ScenarioContext, nodes: [(name: String, node: RotatorProcess)], connections: Int) async throws -> ReportTable {
        var rows: [[String]] = []
        var costs: [Double] = []
        for (name, node) in nodes {
            let admin = try await AdminClient.login(node.url)
            let body = #"{"name":"bulk","slug":"bulk","config_type":"generic","target_url":"\#(context.fleet.mock.baseURL)/api","#
                + #""api_key_location":"header","api_key_name":"X-Api-Key"}"#
            guard let id = try await admin.expectOK(.POST, "/admin/proxy-configs", body: body).object()["id"] as? Int else {
                throw RunnerError("creating the generic config on \(name): no id in the answer")
            }
            try await admin.importKeys(["gk-bulk-0001-abcdefghijklmnop"], configID: id)
            try await Task.sleep(for: .milliseconds(300))
            let run = try WrkRun.run(
                url: "\(node.url)/proxy/bulk/echo", headers: ScenarioContext.proxyAuth + [["x-mock-echo-key-at", String(answerBytes)]], body: "{}",
                connections: connections, seconds: max(1, Int(context.options.window)), directory: context.fleet.directory, measuring: [node.process.pid]
            )
            costs.append(run.cpuMicrosecondsPerRequest)
            rows.append([name, Format.rate(run.throughput), String(format: "%.0f", run.cpuMicrosecondsPerRequest),
                         String(run.notOK + run.socketErrors)])
        }
        let added = (costs.first ?? 0) - (costs.last ?? 0)
        rows.append(["this build − baseline", "", String(format: "%+.0f", added),
                     String(format: "%+.0f µs per MB", added / (Double(answerBytes) / 1_000_000))])
        return ReportTable(
            caption: "Generic config, 200 KB answers (wrk -t1 -c\(connections)): CPU per answer of each default node, and the difference per MB",
            columns: ["target", "req/s", "CPU µs / request", "not 2xx / errors"], rows: rows
        )
    }
}
