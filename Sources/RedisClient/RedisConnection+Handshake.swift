import Logging
import NIOCore

extension RedisConnection {
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
            pushHandler: pushHandler, logger: logger
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
            await connection.close()
            throw error
        }
        return connection
    }
}
