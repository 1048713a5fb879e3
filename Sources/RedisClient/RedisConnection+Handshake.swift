import Logging
import NIOCore
import NIOPosix

extension RedisConnection {
    /// Opens one prepared connection (TLS handshake, AUTH, SELECT, PING) and closes it: a start-up check that the
    /// settings work. Throws `RedisTLSError` for TLS problems, `RedisError` otherwise.
    public static func probe(
        _ configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis")
    ) async throws {
        let connection = try await open(configuration, eventLoopGroup: eventLoopGroup, logger: logger)
        await connection.close()
    }

    /// Connects and prepares a connection for use: AUTH (if a password is set), SELECT (if the database is
    /// not 0) and a PING, pipelined in one round trip and bounded by the command timeout, so that a server
    /// that accepts TCP but does not answer (stopped, overloaded) counts as down.
    static func open(
        _ configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup,
        pushHandler: (@Sendable (RESPValue) -> Void)? = nil,
        logger: Logger
    ) async throws -> RedisConnection {
        let connection = try await connect(
            host: configuration.host, port: configuration.port, eventLoopGroup: eventLoopGroup,
            connectTimeout: configuration.connectTimeout, commandTimeout: configuration.commandTimeout,
            tls: try configuration.tls?.makeContext(), pushHandler: pushHandler, logger: logger
        )
        var commands: [[RedisArgument]] = []
        if let password = configuration.password {
            if let username = configuration.username {
                commands.append(["AUTH", RedisArgument(username), RedisArgument(password)])
            } else {
                commands.append(["AUTH", RedisArgument(password)])
            }
        }
        if configuration.database != 0 {
            commands.append(["SELECT", RedisArgument(configuration.database)])
        }
        commands.append(["PING"])
        do {
            let replies = try await connection.pipeline(commands)
            // Server messages (`WRONGPASS ...`, `ERR DB index is out of range`) never echo the password.
            for reply in replies {
                if case .error(let message) = reply { throw RedisError.server(message) }
            }
        } catch {
            let tlsError = connection.tlsFailureBeforeFirstReply(error)
            await connection.close()
            throw tlsError ?? error
        }
        return connection
    }
}
