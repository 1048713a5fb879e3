import Foundation
import KeyCoordination
import Logging
import RedisClient

/// Revoked admin tokens in Redis, so a logout on one node ends the token on every node: one key per token id,
/// expiring when the token would have. Each revocation is also kept on this node, which is what it answers from
/// while Redis cannot be reached (a token ended on another node during an outage is then refused only there).
public final class RedisTokenRevocationList: TokenRevocationList {
    private let client: RedisClient
    private let local: InMemoryTokenRevocationList
    private let logger: Logger

    public init(client: RedisClient, logger: Logger) {
        self.client = client
        self.logger = logger
        self.local = InMemoryTokenRevocationList()
    }

    static func key(_ id: String) -> String {
        "rotator:revoked-token:" + id
    }

    public func revoke(id: String, expiresAt: Double) async {
        await local.revoke(id: id, expiresAt: expiresAt)
        let seconds = Int((expiresAt - Date().timeIntervalSince1970).rounded(.up))
        guard seconds > 0 else { return }
        do {
            _ = try await run(["SET", Self.key(id), "1", "EX", String(seconds)])
        } catch {
            logger.warning("redis unreachable: the logout holds on this node only", metadata: ["error": "\(error)"])
        }
    }

    public func isRevoked(id: String) async -> Bool {
        if await local.isRevoked(id: id) { return true }
        do {
            return try await run(["EXISTS", Self.key(id)]).int == 1
        } catch {
            logger.warning("redis unreachable: checking admin token revocations on this node only", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func run(_ command: [String]) async throws -> RESPValue {
        let client = self.client
        return try await RedisKeyCoordinator.withDeadline(client.configuration.commandTimeout * 2, logger: logger) {
            try await client.send(command)
        }
    }
}
