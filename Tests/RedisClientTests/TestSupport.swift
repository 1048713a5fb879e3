import LocalTestServers
import RedisClient
import Synchronization

/// Runs `body` against a fresh private redis-server, stopped afterwards.
func withRedisServer<T>(
    password: String? = nil,
    _ body: (RedisTestServer) async throws -> T
) async throws -> T {
    let server = try await RedisTestServer.start(password: password)
    defer { server.stop() }
    return try await body(server)
}

/// A short backoff so that failure tests finish quickly.
func testConfiguration(
    _ server: RedisTestServer,
    password: String? = nil,
    database: Int = 0,
    // Generous: the whole suite runs its servers in parallel on 2 shared cores; tests of timeouts pass their own.
    commandTimeout: Duration = .seconds(5)
) -> RedisConfiguration {
    RedisConfiguration(
        host: "127.0.0.1",
        port: server.port,
        password: password,
        database: database,
        connectTimeout: .seconds(5),
        commandTimeout: commandTimeout,
        reconnectBackoff: ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(300))
    )
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(
    timeout: Duration = .seconds(10),
    every interval: Duration = .milliseconds(20),
    _ condition: () async -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return await condition()
}

/// Collects a subscription's events from a background task.
final class EventRecorder: Sendable {
    private let events = Mutex<[RedisPubSubEvent]>([])
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(_ stream: AsyncStream<RedisPubSubEvent>) {
        let task = Task {
            for await event in stream { self.events.withLock { $0.append(event) } }
        }
        self.task.withLock { $0 = task }
    }

    var all: [RedisPubSubEvent] { events.withLock { $0 } }

    var messages: [String] {
        all.compactMap { event in
            if case .message(let payload) = event { return String(decoding: payload, as: UTF8.self) }
            return nil
        }
    }

    func count(of event: RedisPubSubEvent) -> Int { all.filter { $0 == event }.count }

    func cancel() { task.withLock { $0?.cancel() } }
}
