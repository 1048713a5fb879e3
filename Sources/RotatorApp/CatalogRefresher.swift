import ConfigCatalog
import Logging
import ServiceLifecycle

/// Re-reads the catalog when the store's version moved without this node hearing of it (another node's
/// write whose message was lost, or an edit made straight in the database).
struct CatalogRefresher: Service {
    let catalog: ConfigCatalog
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let interval = self.interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully else { return }
            do {
                try await catalog.reloadIfStale()
            } catch {
                logger.debug("catalog version check failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
