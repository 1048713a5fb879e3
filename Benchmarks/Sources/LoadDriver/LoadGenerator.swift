import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Runs a `LoadPlan` with AsyncHTTPClient: a warm-up, then the measured window, closed or open loop.
public struct LoadGenerator: Sendable {
    public let plan: LoadPlan
    private let request: HTTPClientRequest

    public init(plan: LoadPlan) throws {
        if let problem = plan.problem { throw LoadPlanError(description: problem) }
        self.plan = plan
        var request = HTTPClientRequest(url: plan.url)
        request.method = HTTPMethod(rawValue: plan.method.uppercased())
        for pair in plan.headers { request.headers.add(name: pair[0], value: pair[1]) }
        if let body = plan.body {
            request.body = .bytes(ByteBuffer(string: body))
            if !request.headers.contains(name: "content-type") { request.headers.add(name: "Content-Type", value: "application/json") }
        }
        self.request = request
    }

    /// Runs the plan; `onProgress` is called about once a second with the recorder of the measured window.
    public func run(onProgress: (@Sendable (_ elapsed: Duration, _ recorder: LoadRecorder) -> Void)? = nil) async throws -> LoadResult {
        var configuration = HTTPClient.Configuration(
            timeout: .init(connect: .seconds(5), read: .seconds(Int64(plan.timeout.rounded(.up)))),
            connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: plan.connections)
        )
        configuration.decompression = .disabled
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        do {
            if plan.warmup > 0 {
                _ = await measure(client: client, recorder: LoadRecorder(), duration: .milliseconds(Int64(plan.warmup * 1000)), onProgress: nil)
            }
            let recorder = LoadRecorder()
            let elapsed = await measure(client: client, recorder: recorder, duration: .milliseconds(Int64(plan.duration * 1000)),
                                        onProgress: onProgress)
            try await client.shutdown()
            return recorder.result(plan: plan, elapsed: elapsed)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func measure(
        client: HTTPClient, recorder: LoadRecorder, duration: Duration,
        onProgress: (@Sendable (Duration, LoadRecorder) -> Void)?
    ) async -> Duration {
        let start = ContinuousClock.now
        let reporter = onProgress.map { report in
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    if Task.isCancelled { break }
                    report(ContinuousClock.now - start, recorder)
                }
            }
        }
        defer { reporter?.cancel() }
        switch plan.mode {
        case .closed:
            let minimum = plan.minimumRequestsPerConnection ?? 0
            await withDiscardingTaskGroup { group in
                for _ in 0..<plan.connections {
                    group.addTask {
                        var sent = 0
                        while !Task.isCancelled {
                            let due = ContinuousClock.now
                            guard due - start < duration || sent < minimum else { return }
                            recorder.record(await send(client: client, due: due, offset: due - start))
                            sent += 1
                        }
                    }
                }
            }
        case .open:
            let schedule = OpenLoopSchedule(rate: plan.rate ?? 1, duration: duration)
            let inFlight = InFlightCount()
            let limit = plan.connections
            await withDiscardingTaskGroup { group in
                var index = 0
                while let offset = schedule.offset(of: index), !Task.isCancelled {
                    index += 1
                    let due = start + offset
                    if due > ContinuousClock.now {
                        // A cancelled run stops here rather than firing the rest of its schedule at once.
                        do { try await Task.sleep(until: due, tolerance: .microseconds(50), clock: .continuous) } catch { break }
                    }
                    guard inFlight.enter(limit: limit) else {
                        recorder.recordDrop(at: offset)
                        continue
                    }
                    group.addTask {
                        recorder.record(await send(client: client, due: due, offset: offset))
                        inFlight.leave()
                    }
                }
            }
        }
        return ContinuousClock.now - start
    }

    /// One request; latency and time to first byte count from `due`.
    private func send(client: HTTPClient, due: ContinuousClock.Instant, offset: Duration) async -> RequestSample {
        var sample = RequestSample(offset: offset)
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(plan.timeout * 1000)))
            sample.status = Int(response.status.code)
            if response.status.code == 429 {
                sample.retryAfter = response.headers.first(name: "retry-after").flatMap { Int($0) }
            }
            var previous: ContinuousClock.Instant?
            for try await _ in response.body {
                let now = ContinuousClock.now
                if plan.stream {
                    if let previous { sample.chunkGaps.append(now - previous) } else { sample.timeToFirstByte = now - due }
                }
                previous = now
                sample.chunks += 1
            }
            if plan.stream, sample.timeToFirstByte == nil { sample.timeToFirstByte = ContinuousClock.now - due }
            sample.latency = ContinuousClock.now - due
        } catch {
            // A stream that broke off is an error, not a sample of time to first byte or chunk gaps.
            sample = RequestSample(offset: offset, error: Self.describe(error))
        }
        return sample
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout: return "timeout"
            case .connectTimeout: return "connect timeout"
            case .remoteConnectionClosed: return "connection closed"
            default: return "http client: \(error.shortDescription)"
            }
        }
        if error is NIOConnectionError { return "connect" }
        if let error = error as? IOError { return "io: errno \(error.errnoCode)" }
        if let error = error as? ChannelError, error == .connectTimeout(.zero) { return "connect timeout" }
        return String(describing: type(of: error))
    }
}

/// Requests of an open-loop run still waiting for their answer.
final class InFlightCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts one more unless `limit` are already in flight.
    func enter(limit: Int) -> Bool {
        if count.add(1, ordering: .relaxed).newValue <= limit { return true }
        count.subtract(1, ordering: .relaxed)
        return false
    }

    func leave() {
        count.subtract(1, ordering: .relaxed)
    }
}

public struct LoadPlanError: Error, CustomStringConvertible {
    public let description: String
}
