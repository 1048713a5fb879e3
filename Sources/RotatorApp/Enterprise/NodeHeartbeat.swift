import Foundation
import Logging
import RedisClient
import RedisCoordination
import ServiceLifecycle

/// One node's presence in the cluster: every few seconds it writes `{id, address, version, last_seen}` into the
/// `rotator:nodes` hash, and counts the nodes seen recently (the count paces keys while Redis is away).
struct NodeHeartbeat: Service {
    static let hash = "rotator:nodes"

    struct NodeInfo: Codable, Sendable, Equatable {
        var id: String
        var address: String
        var version: String
        var mode: String
        var started_at: Double
        var last_seen: Double
        /// What this node cannot reach and what it does instead (empty when healthy); absent from older nodes.
        var degraded_reasons: [String: String]?
    }

    let client: RedisClient
    let coordinator: RedisKeyCoordinator
    let node: NodeInfo
    let interval: Duration
    let logger: Logger
    /// This node's degradation at each beat (`/healthz` details).
    var degradation: @Sendable () -> [String: String] = { [:] }
    /// Told the live node count at each beat that read it (the client quota divides its limits by it while Redis is away).
    var liveNodesSeen: @Sendable (Int) async -> Void = { _ in }

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await beat()
            let interval = self.interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        _ = try? await client.send(["HDEL", Self.hash, node.id])
    }

    private func beat() async {
        var info = node
        info.last_seen = Date().timeIntervalSince1970
        info.degraded_reasons = degradation()
        guard let data = try? JSONEncoder().encode(info) else { return }
        do {
            _ = try await client.send([RedisArgument("HSET"), RedisArgument(Self.hash), RedisArgument(node.id), RedisArgument(Array(data))])
            let live = try await Self.liveNodes(client: client, staleAfter: Double(interval.components.seconds) * 3 + 1)
            coordinator.setLiveNodeCount(live.count)
            await liveNodesSeen(live.count)
        } catch {
            logger.debug("heartbeat failed", metadata: ["error": "\(error)"])
        }
    }

    /// Nodes whose last heartbeat is recent; entries older than a minute are removed.
    static func liveNodes(client: RedisClient, staleAfter: Double) async throws -> [NodeInfo] {
        let reply = try await client.send(["HGETALL", hash])
        let values = reply.array ?? []
        let now = Date().timeIntervalSince1970
        var live: [NodeInfo] = []
        var index = 0
        while index + 1 < values.count {
            defer { index += 2 }
            guard let bytes = values[index + 1].bytes, let info = try? JSONDecoder().decode(NodeInfo.self, from: Data(bytes)) else { continue }
            if now - info.last_seen < staleAfter {
                live.append(info)
            } else if now - info.last_seen > 60, let id = values[index].string {
                _ = try? await client.send(["HDEL", hash, id])
            }
        }
        return live.sorted { $0.id < $1.id }
    }
}
