import MockUpstream
import RedisClient

/// Something a test starts (a node, a mock or test upstream) that must be stopped, awaited, before the test ends.
/// `defer { Task { await x.stop() } }` only schedules the stop: the server then keeps running (ports, threads, timers,
/// log lines) into whatever test runs next, and its shutdown competes with that test for the machine's two cores.
protocol StoppableTestServer {
    func stop() async
}

extension StoppableTestServer {
    /// Runs `body` with this server, then stops it and waits for the stop, also when `body` throws.
    func whileRunning<Result>(_ body: (Self) async throws -> Result) async throws -> Result {
        let result: Result
        do {
            result = try await body(self)
        } catch {
            await stop()
            throw error
        }
        await stop()
        return result
    }
}

extension TestNode: StoppableTestServer {}
extension TruncatingUpstream: StoppableTestServer {}
extension RelayTestUpstream: StoppableTestServer {}
extension RunningMockUpstream: StoppableTestServer {
    func stop() async { await stop(timeout: .seconds(2)) }
}

/// Starts a node (see `TestNode.start`), runs `body` against it and stops it before returning, also when `body`
/// throws: no node outlives the test that started it.
func withRunningNode<Result>(
    environment: [String: String] = [:], mockState: MockUpstreamState = MockUpstreamState(),
    _ body: (TestNode) async throws -> Result
) async throws -> Result {
    try await TestNode.start(environment: environment, mockState: mockState).whileRunning(body)
}

extension RedisClient: StoppableTestServer {
    func stop() async { await shutdown() }
}
