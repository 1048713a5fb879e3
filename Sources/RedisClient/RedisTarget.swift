import Logging
import NIOCore

/// Where `RedisClient` and `RedisSubscriber` connect, and how they wait between attempts: the configured server,
/// or (Sentinel) the master the Sentinels name.
struct RedisTarget: Sendable {
    let configuration: RedisConfiguration
    let masterLocator: RedisMasterLocator?
    let eventLoopGroup: any EventLoopGroup

    /// The `redis.endpoint` log metadata: the Sentinel set, or the configured host and port.
    var label: String {
        masterLocator.map { "\($0.configuration)" } ?? "\(configuration.host):\(configuration.port)"
    }

    /// A ready connection, with the master it was checked (by `ROLE`) to be when a Sentinel named it.
    func open(
        pushHandler: (@Sendable (RESPValue) -> Void)? = nil, logger: Logger
    ) async throws -> (RedisConnection, RedisEndpoint?) {
        guard let masterLocator else {
            let connection = try await RedisConnection.open(
                configuration, eventLoopGroup: eventLoopGroup, pushHandler: pushHandler, logger: logger
            )
            return (connection, nil)
        }
        let (connection, master) = try await masterLocator.openMaster(
            configuration, eventLoopGroup: eventLoopGroup, pushHandler: pushHandler, logger: logger
        )
        return (connection, master)
    }

    /// Returns when `connection` has closed or, with Sentinel, when the master moved away from `master`.
    func waitUntilLost(_ connection: RedisConnection, master: RedisEndpoint?) async {
        if let masterLocator, let master {
            await masterLocator.closeWhenMoved(connection, endpoint: master)
        } else {
            await connection.waitUntilClosed()
        }
    }

    /// The wait after `failures` failed attempts in a row (none after a connection that served, then closed);
    /// cut short when the Sentinels name a new master. Throws when cancelled.
    func pause(afterFailures failures: Int) async throws {
        let delay = configuration.reconnectBackoff.delay(attempt: max(failures - 1, 0))
        if let masterLocator { try await masterLocator.backOff(delay) } else { try await Task.sleep(for: delay) }
    }
}
