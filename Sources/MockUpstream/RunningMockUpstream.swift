import ServiceLifecycle

/// A mock started by `MockUpstreamServer.start`.
public struct RunningMockUpstream: Sendable {
    public let host: String
    public let port: Int
    /// `http`, or `https` when started with a TLS configuration.
    public let scheme: String
    private let group: ServiceGroup
    private let task: Task<Void, Never>

    init(host: String, port: Int, scheme: String = "http", group: ServiceGroup, task: Task<Void, Never>) {
        self.host = host
        self.port = port
        self.scheme = scheme
        self.group = group
        self.task = task
    }

    /// `http://127.0.0.1:PORT` (or https), no trailing slash.
    public var baseURL: String { "\(scheme)://\(host):\(port)" }

    /// Graceful shutdown; if open connections keep the server up past `timeout`, the server task is cancelled.
    public func stop(timeout: Duration = .seconds(2)) async {
        await group.triggerGracefulShutdown()
        let task = self.task
        await withTaskGroup(of: Void.self) { waiters in
            waiters.addTask { await task.value }
            waiters.addTask {
                try? await Task.sleep(for: timeout)
                task.cancel()
            }
            await waiters.next()
            waiters.cancelAll()
        }
        await task.value
    }
}
