import Hummingbird
import HummingbirdTLS
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the mock in-process for tests: `let mock = try await MockUpstreamServer.start(state: state)`,
/// then `mock.baseURL`, then `await mock.stop()`.
public enum MockUpstreamServer {
    /// Starts the mock on `host` (port 0 = a free one) and returns once it is accepting connections.
    /// - Parameter tls: serve https with this configuration (a certificate made by the test); nil: plain http.
    public static func start(
        state: MockUpstreamState, host: String = "127.0.0.1", port: Int = 0, tls: TLSConfiguration? = nil
    ) async throws -> RunningMockUpstream {
        let bound = BoundPort()
        let app = try makeMockUpstreamApplication(state: state, host: host, port: port, tls: tls) { port in
            bound.succeed(port)
        }
        // No signal handling: the test process owns its signals; `stop()` shuts the group down.
        let group = ServiceGroup(services: [app], logger: app.logger)
        let task = Task {
            do {
                try await group.run()
                bound.fail(MockUpstreamStartError.exitedBeforeListening)
            } catch {
                bound.fail(error)
            }
        }
        do {
            let boundPort = try await bound.value()
            return RunningMockUpstream(host: host, port: boundPort, scheme: tls == nil ? "http" : "https", group: group, task: task)
        } catch {
            task.cancel()
            throw error
        }
    }
}

public enum MockUpstreamStartError: Error, Sendable {
    case exitedBeforeListening
}

/// The bound port, handed from `onServerRunning` to whoever awaits `start`; the first outcome wins.
private final class BoundPort: Sendable {
    private enum Phase {
        case waiting([CheckedContinuation<Int, any Error>])
        case done(Result<Int, any Error>)
    }

    private let phase = Mutex(Phase.waiting([]))

    func succeed(_ port: Int) { complete(.success(port)) }
    func fail(_ error: any Error) { complete(.failure(error)) }

    private func complete(_ result: Result<Int, any Error>) {
        let waiters: [CheckedContinuation<Int, any Error>] = phase.withLock { phase in
            guard case .waiting(let waiters) = phase else { return [] }
            phase = .done(result)
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    func value() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Int, any Error>? = phase.withLock { phase in
                switch phase {
                case .waiting(let waiters):
                    phase = .waiting(waiters + [continuation])
                    return nil
                case .done(let result):
                    return result
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
