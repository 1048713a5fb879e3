import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Redis with Sentinel on loopback, for failover tests: one master, one replica and three Sentinels
/// (`redis-server --sentinel`, the same binary) with a quorum of 2 and short timeouts, so that a killed master is
/// replaced within a few seconds.
public final class RedisSentinelTestGroup: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static let masterName = "rotator-test"

    public let master: RedisTestServer
    public let replica: RedisTestServer
    public let sentinelPorts: [Int]
    public let directory: String
    private let sentinels: [ManagedProcess]

    /// `REDIS_SENTINELS` for this group.
    public var sentinelList: String { sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") }

    private init(master: RedisTestServer, replica: RedisTestServer, sentinels: [ManagedProcess], sentinelPorts: [Int], directory: String) {
        self.master = master
        self.replica = replica
        self.sentinels = sentinels
        self.sentinelPorts = sentinelPorts
        self.directory = directory
    }

    deinit {
        stop()
    }

    /// Starts the five servers and waits (up to `timeout`) until the replica is in sync and every Sentinel sees the
    /// replica and a quorum of Sentinels able to fail over.
    /// - Parameter downAfter: how long the master must be silent before a Sentinel calls it down.
    public static func start(
        downAfter: Duration = .milliseconds(1000), failoverTimeout: Duration = .seconds(5), timeout: Duration = .seconds(40)
    ) async throws -> RedisSentinelTestGroup {
        guard let executable = RedisTestServer.executablePath else {
            throw Failure(description: "redis-server not found (install the redis-server package)")
        }
        let master = try await RedisTestServer.start()
        let replica: RedisTestServer
        do {
            replica = try await RedisTestServer.start(replicaOf: master.port)
        } catch {
            master.stop()
            throw error
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-sentinel-\(UUID().uuidString.prefix(8))").path
        var sentinels: [ManagedProcess] = []
        var ports: [Int] = []
        func cleanUp() {
            for sentinel in sentinels { sentinel.kill(signal: SIGKILL) }
            master.stop()
            replica.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for index in 0..<3 {
                let port = try FreePort.find()
                // Sentinel rewrites its configuration file, so each gets its own.
                let file = "\(directory)/sentinel\(index).conf"
                try """
                    port \(port)
                    bind 127.0.0.1
                    dir \(directory)
                    sentinel monitor \(masterName) 127.0.0.1 \(master.port) 2
                    sentinel down-after-milliseconds \(masterName) \(downAfter.milliseconds)
                    sentinel failover-timeout \(masterName) \(failoverTimeout.milliseconds)
                    sentinel parallel-syncs \(masterName) 1

                    """.write(toFile: file, atomically: true, encoding: .utf8)
                sentinels.append(try ManagedProcess(
                    executable: executable, arguments: [file, "--sentinel"], logFile: "\(directory)/sentinel\(index).log",
                    currentDirectory: directory
                ))
                ports.append(port)
            }
            let group = RedisSentinelTestGroup(master: master, replica: replica, sentinels: sentinels, sentinelPorts: ports, directory: directory)
            try await group.waitUntilReady(timeout: timeout)
            return group
        } catch {
            cleanUp()
            throw error
        }
    }

    /// Kills every server and removes the Sentinels' directory. Idempotent.
    public func stop() {
        for sentinel in sentinels {
            sentinel.kill(signal: SIGCONT)
            sentinel.kill(signal: SIGKILL)
        }
        master.stop()
        replica.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The master's port as the first Sentinel that answers names it.
    public func masterPortNamedBySentinels() -> Int? {
        for port in sentinelPorts {
            guard let reply = RedisTestServer.inlineCommand("SENTINEL get-master-addr-by-name \(Self.masterName)", port: port) else { continue }
            // `*2\r\n$9\r\n127.0.0.1\r\n$5\r\n12345\r\n`: the port is the last bulk string.
            let lines = reply.split(separator: "\r\n")
            if lines.first == "*2", let last = lines.last, let value = Int(last) { return value }
        }
        return nil
    }

    /// The role a server reports (`master`, `slave`), nil when it does not answer.
    public static func role(port: Int) -> String? {
        guard let reply = RedisTestServer.inlineCommand("ROLE", port: port) else { return nil }
        let lines = reply.split(separator: "\r\n")
        return lines.count > 2 ? String(lines[2]) : nil
    }

    public func sentinelLogTail(_ index: Int, lines: Int = 20) -> String { sentinels[index].logTail(lines: lines) }

    private func waitUntilReady(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastState = "nothing checked"
        while ContinuousClock.now < deadline {
            let linked = RedisTestServer.inlineCommand("INFO replication", port: replica.port)?.contains("master_link_status:up") == true
            let quorum = sentinelPorts.map { RedisTestServer.inlineCommand("SENTINEL ckquorum \(Self.masterName)", port: $0) ?? "" }
            let replicasSeen = sentinelPorts.map {
                RedisTestServer.inlineCommand("SENTINEL replicas \(Self.masterName)", port: $0)?.contains("\(replica.port)") == true
            }
            // `+OK 3 usable Sentinels`: every Sentinel has heard of the two others (hello messages every 2 s).
            if linked, quorum.allSatisfy({ $0.hasPrefix("+OK 3 usable") }), replicasSeen.allSatisfy({ $0 }) { return }
            lastState = "replica linked: \(linked); quorum: \(quorum.map { $0.prefix(40) }); replica seen: \(replicasSeen)"
            for (index, sentinel) in sentinels.enumerated() where !sentinel.isRunning {
                throw Failure(description: "sentinel \(index) exited during start-up; log tail:\n\(sentinel.logTail())")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "Sentinel group not ready within \(timeout): \(lastState)")
    }
}

extension Duration {
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
