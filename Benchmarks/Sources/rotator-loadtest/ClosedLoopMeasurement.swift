import LoadDriver

/// One closed-loop run against a target, whichever driver made it: throughput, latency, what the target process
/// spent per request (from /proc), and every answer that was not a success.
struct ClosedLoopMeasurement: Sendable {
    var requests: Int
    var throughput: Double
    var p50: Double
    var p99: Double
    var cpuMicrosecondsPerRequest: Double
    /// Answers outside 2xx (wrk: outside 2xx and 3xx).
    var notOK: Int
    /// Connections refused, reset or timed out.
    var transportErrors: Int

    init(wrk run: WrkRun) {
        requests = run.requests
        throughput = run.throughput
        p50 = run.latencyP50
        p99 = run.latencyP99
        cpuMicrosecondsPerRequest = run.cpuMicrosecondsPerRequest
        notOK = run.notOK
        transportErrors = run.socketErrors
    }

    /// A run of the project's driver with no warm-up, so `cost` (sampled around it) covers exactly its requests.
    init(load result: LoadResult, cost: ProcessCost) {
        requests = result.requests
        throughput = result.throughput
        p50 = result.latency.p50
        p99 = result.latency.p99
        cpuMicrosecondsPerRequest = cost.microsecondsPerRequest(result.requests)
        notOK = result.statuses.filter { !$0.key.hasPrefix("2") }.values.reduce(0, +)
        transportErrors = result.errors.values.reduce(0, +)
    }

    var failed: Int { notOK + transportErrors }
}
