import Foundation
import LoadDriver

/// What every scenario gets: the fleet, the options, and one way to run load and keep its result.
final class ScenarioContext: Sendable {
    let fleet: Fleet
    let options: RunnerOptions
    private let collected = Mutex<[LoadResult]>([])

    static let chatBody = #"{"model":"gpt-mock","messages":[{"role":"user","content":"hello"}]}"#
    static let streamBody = #"{"model":"gpt-mock","stream":true,"messages":[{"role":"user","content":"hello"}]}"#

    init(fleet: Fleet, options: RunnerOptions) {
        self.fleet = fleet
        self.options = options
    }

    var results: [LoadResult] { collected.withLock { $0 } }

    /// Scales a count for smoke runs (CI), so every scenario still runs, small.
    func scaled(_ full: Int, smoke: Int) -> Int { options.mode == .smoke ? smoke : full }
    func scaled(_ full: Double, smoke: Double) -> Double { options.mode == .smoke ? smoke : full }

    /// The chat-completions URL of a config through a node or the balancer.
    func proxyURL(_ base: String, slug: String) -> String { "\(base)/llm/\(slug)/v1/chat/completions" }

    static let proxyAuth = [["Authorization", "Bearer \(RotatorProcess.proxyKey)"]]

    func plan(
        _ label: String, url: String, headers: [[String]] = ScenarioContext.proxyAuth, body: String = ScenarioContext.chatBody,
        mode: LoadPlan.Mode, connections: Int, rate: Double? = nil, duration: Double? = nil, warmup: Double? = nil, stream: Bool = false
    ) -> LoadPlan {
        LoadPlan(label: label, url: url, method: "POST", headers: headers, body: body, mode: mode, connections: connections, rate: rate,
                 duration: duration ?? options.window, warmup: warmup ?? options.warmup, stream: stream, timeout: 30)
    }

    /// Runs one plan with a live progress line on stderr, keeps the result for results.json, prints a summary.
    func run(_ plan: LoadPlan) async throws -> LoadResult {
        let result = try await LoadGenerator(plan: plan).run { elapsed, recorder in
            ProgressLine.show(ProgressLine.render(plan: plan, elapsed: elapsed, recorder: recorder), elapsed: elapsed)
        }
        ProgressLine.clear()
        say(ResultSummary.text(result))
        collected.withLock { $0.append(result) }
        return result
    }

    /// Starts one plan that runs while the scenario acts on the fleet (kills, restarts, storms).
    func runInBackground(_ plan: LoadPlan) -> BackgroundLoad {
        BackgroundLoad(Task { try await self.run(plan) })
    }
}

/// A load run going on in the background. If the scenario leaves early (an error), the load is cancelled rather than
/// running on into the next scenario.
final class BackgroundLoad: Sendable {
    private let task: Task<LoadResult, any Error>

    fileprivate init(_ task: Task<LoadResult, any Error>) {
        self.task = task
    }

    /// Waits for the run to end.
    var result: LoadResult {
        get async throws { try await task.value }
    }

    deinit { task.cancel() }
}

import Synchronization
