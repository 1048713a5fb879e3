import ConfigCatalog
import Logging
import RedisClient

/// Tells every node that a config changed: `PUBLISH rotator:invalidate <ConfigChangeMessage payload>`.
/// Pub/sub is fire-and-forget; a node that misses it catches up through the catalog's version check.
struct RedisChangePublisher: ConfigChangePublisher {
    static let channel = "rotator:invalidate"

    let client: RedisClient
    let logger: Logger

    func publish(_ message: ConfigChangeMessage) async {
        do {
            _ = try await client.publish(message.payload, to: Self.channel)
        } catch {
            logger.warning("could not publish a config change; other nodes will catch up on their next version check",
                           metadata: ["change": .string(message.payload), "error": "\(error)"])
        }
    }
}
