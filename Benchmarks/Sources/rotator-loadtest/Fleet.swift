import Foundation
import LocalTestServers
import MockUpstreamClient

/// Everything a run needs, started on 127.0.0.1: the mock upstream, redis-server, mariadbd, one default-mode
/// node, three enterprise nodes, nginx as the reference proxy and nginx as the load balancer in front of the three.
final class Fleet: Sendable {
    static let referenceKey = "sk-reference-00000-abcdefghijklmnop"

    let directory: String
    let mock: MockUpstreamProcess
    let redis: RedisTestServer
    let mariadb: MariaDBTestServer
    let defaultNode: RotatorProcess
    /// A default node of another build (`--baseline-bin`), measured beside `defaultNode`.
    let baselineNode: RotatorProcess?
    let cluster: [RotatorProcess]
    let reference: NginxProcess
    let balancer: NginxProcess
    /// The Swift baseline: a minimal SwiftNIO relay to the mock, no rotator logic.
    let bareRelay: ManagedProcess
    let bareRelayPort: Int

    static func start(options: RunnerOptions, directory: String, log: @Sendable (String) -> Void) async throws -> Fleet {
        let rotator = "\(options.binaries)/rotator"
        guard FileManager.default.isExecutableFile(atPath: rotator) else {
            throw RunnerError("no rotator binary at \(rotator): build it first (swift build -c release)")
        }
        // Whatever started before a failure is stopped again, in reverse order.
        var cleanup: [@Sendable () async -> Void] = []
        do {
            log("starting mock-upstream, redis-server, mariadbd")
            let mock = try await MockUpstreamProcess.start(
                binary: MockUpstreamProcess.binary(besides: rotator), directory: directory, client: HTTP.shared.client,
                arguments: ["--record-limit", "0"]
            )
            cleanup.append { await mock.stop() }
            let redis = try await RedisTestServer.start()
            cleanup.append { redis.stop() }
            let mariadb = try await MariaDBTestServer.start()
            cleanup.append { await mariadb.stop(removingData: true) }
            try await mariadb.makeDatabase(named: "rotator_loadtest")
            log("starting rotator nodes: 1 default mode, 3 enterprise mode")
            let defaultNode = try await RotatorProcess.start(name: "default", binary: rotator, directory: directory)
            cleanup.append { await defaultNode.stop() }
            var baselineNode: RotatorProcess?
            if let baseline = options.baselineBinaries {
                log("starting a baseline default node from \(baseline)/rotator")
                let node = try await RotatorProcess.start(name: "baseline", binary: "\(baseline)/rotator", directory: directory)
                cleanup.append { await node.stop() }
                baselineNode = node
            }
            var cluster: [RotatorProcess] = []
            for index in 0..<3 {
                let node = try await RotatorProcess.start(
                    name: "enterprise\(index)", binary: rotator, directory: directory,
                    databaseURL: "mysql://root@127.0.0.1:\(mariadb.port)/rotator_loadtest", redisURL: "redis://127.0.0.1:\(redis.port)/0"
                )
                cleanup.append { await node.stop() }
                cluster.append(node)
            }
            log("starting nginx: reference proxy and load balancer")
            let templates = Repository.root.appendingPathComponent("loadtest/nginx").path
            let reference = try await NginxProcess.start(
                nginx: options.nginx, template: "\(templates)/reference-proxy.conf", name: "reference", directory: directory,
                values: ["MOCK_PORT": String(mock.port), "KEY": referenceKey]
            )
            cleanup.append { await reference.stop() }
            let servers = cluster.map { "        server 127.0.0.1:\($0.port) max_fails=1 fail_timeout=5s;" }.joined(separator: "\n")
            let balancer = try await NginxProcess.start(
                nginx: options.nginx, template: "\(templates)/load-balancer.conf", name: "balancer", directory: directory,
                values: ["SERVERS": servers]
            )
            cleanup.append { await balancer.stop() }
            log("starting bare-relay (the Swift baseline)")
            let bareRelayPort = try FreePort.find()
            let bareRelay = try ManagedProcess(
                executable: "\(options.benchmarkBinaries)/bare-relay",
                arguments: ["--port", String(bareRelayPort), "--upstream", "127.0.0.1:\(mock.port)"], logFile: "\(directory)/bare-relay.log"
            )
            cleanup.append { await bareRelay.stop() }
            for _ in 0..<100 where !FreePort.isListening(bareRelayPort) { try await Task.sleep(for: .milliseconds(50)) }
            guard FreePort.isListening(bareRelayPort) else { throw RunnerError("bare-relay did not start (see \(directory)/bare-relay.log)") }
            return Fleet(directory: directory, mock: mock, redis: redis, mariadb: mariadb, defaultNode: defaultNode, baselineNode: baselineNode,
                         cluster: cluster,
                         reference: reference, balancer: balancer, bareRelay: bareRelay, bareRelayPort: bareRelayPort)
        } catch {
            for step in cleanup.reversed() { await step() }
            throw error
        }
    }

    private init(
        directory: String, mock: MockUpstreamProcess, redis: RedisTestServer, mariadb: MariaDBTestServer, defaultNode: RotatorProcess,
        baselineNode: RotatorProcess?, cluster: [RotatorProcess], reference: NginxProcess, balancer: NginxProcess, bareRelay: ManagedProcess, bareRelayPort: Int
    ) {
        self.bareRelay = bareRelay
        self.bareRelayPort = bareRelayPort
        self.directory = directory
        self.mock = mock
        self.redis = redis
        self.mariadb = mariadb
        self.defaultNode = defaultNode
        self.baselineNode = baselineNode
        self.cluster = cluster
        self.reference = reference
        self.balancer = balancer
    }

    /// After a scenario failed half-way: every server running and answering again, for the next scenario.
    func repair() async {
        mariadb.kill(signal: SIGCONT)
        redis.resume()
        if !redis.isRunning { try? await redis.restart() }
        for node in cluster + [defaultNode] + [baselineNode].compactMap({ $0 }) where !node.process.isRunning { try? await node.restart() }
    }

    /// Stops every process this run started, whatever state it is in.
    func stop() async {
        mariadb.kill(signal: SIGCONT)
        redis.resume()
        await bareRelay.stop()
        await balancer.stop()
        await reference.stop()
        for node in cluster + [defaultNode] + [baselineNode].compactMap({ $0 }) { await node.stop() }
        await mock.stop()
        redis.stop()
        await mariadb.stop(removingData: true)
    }
}
