import ConfigCatalog
import Logging
import Metrics
import RedisClient
import ServiceLifecycle
import Synchronization

/// Listens on the invalidation channel and refreshes the configs other nodes changed. After a reconnect it
/// reloads the whole catalog, since messages sent during the gap are lost.
final class InvalidationListener: Service, Sendable {
    private let subscriber: RedisSubscriber
    private let catalog: ConfigCatalog
    private let logger: Logger
    private let received = Atomic<Int>(0)
    private let invalidations: Counter

    init(subscriber: RedisSubscriber, catalog: ConfigCatalog, logger: Logger, metricsFactory: any MetricsFactory) {
        self.invalidations = Counter(label: "rotator_cache_invalidations_total", factory: metricsFactory)
        self.subscriber = subscriber
        self.catalog = catalog
        self.logger = logger
    }

    /// Invalidation messages handled since start (for metrics and tests).
    var messagesReceived: Int { received.load(ordering: .relaxed) }

    func run() async throws {
        for await event in subscriber.messages(channel: RedisChangePublisher.channel).cancelOnGracefulShutdown() {
            switch event {
            case .message(let payload):
                received.add(1, ordering: .relaxed)
                invalidations.increment()
                await handle(String(decoding: payload, as: UTF8.self))
            case .resubscribed:
                logger.notice("invalidation channel back after a gap: reloading every config")
                try? await catalog.reloadAll()
            case .subscribed, .disconnected:
                break
            }
        }
        await subscriber.shutdown()
    }

    private func handle(_ payload: String) async {
        guard let message = ConfigChangeMessage(payload: payload) else {
            logger.debug("ignored a malformed invalidation message")
            return
        }
        do {
            try await catalog.apply(message)
        } catch {
            logger.warning("refresh after invalidation failed; the periodic check will retry", metadata: [
                "change": .string(message.payload), "error": "\(error)",
            ])
        }
    }
}
