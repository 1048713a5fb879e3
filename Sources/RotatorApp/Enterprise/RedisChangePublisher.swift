import ConfigCatalog
import Logging
import RedisClient

/// Tells every node that a config changed: `PUBLISH rotator:invalidate "<config id>:<version>"`.
/// Pub/sub is fire-and-forget; a node that misses it catches up through the catalog's version check.
struct RedisChangePublisher: ConfigChangePublisher {
    static let channel = "rotator:invalidate"

    let client: RedisClient
    let logger: Logger

    func publishChange(configID: Int64, version: Int64) async {
        do {
            _ = try await client.publish("\(configID):\(version)", to: Self.channel)
        } catch {
            logger.warning("could not publish a config change; other nodes will catch up on their next version check",
                           metadata: ["config_id": "\(configID)", "error": "\(error)"])
        }
    }
}
