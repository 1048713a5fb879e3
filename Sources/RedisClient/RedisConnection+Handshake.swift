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
    ///
    /// With `requireMaster` (Sentinel) a `ROLE` joins the round trip and a replica is refused with
    /// `RedisError.notMaster`; the connection then also closes itself on a `-READONLY` reply (the master was demoted).
    static func open(
        _ configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup,
        pushHandler: (@Sendable (RESPValue) -> Void)? = nil,
        requireMaster: Bool = false,
        logger: Logger
    ) async throws -> RedisConnection {
        let connection = try await connect(
            host: configuration.host, port: configuration.port, eventLoopGroup: eventLoopGroup,
            connectTimeout: configuration.connectTimeout, commandTimeout: configuration.commandTimeout,
            tls: try configuration.tls?.makeContext(), pushHandler: pushHandler, closesOnReadOnly: requireMaster, logger: logger
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
        if requireMaster { commands.append(["ROLE"]) }
        do {
            var replies = try await connection.pipeline(commands)
            // An ACL user without `ROLE` (an @admin command) cannot be checked here; `-READONLY` still catches a replica.
            let role = requireMaster ? replies.removeLast() : nil
            // Server messages (`WRONGPASS ...`, `ERR DB index is out of range`) never echo the password.
            for reply in replies {
                if case .error(let message) = reply { throw RedisError.server(message) }
            }
            if let role {
                if let message = role.errorMessage {
                    if !message.hasPrefix("NOPERM") { throw RedisError.server(message) }
                } else if !SentinelMasterDiscovery.isMaster(roleReply: role) {
                    throw RedisError.notMaster("\(configuration.host):\(configuration.port) is a \(role.array?.first?.string ?? "server") and not the master")
                }
            }
        } catch {
            let tlsError = connection.tlsFailureBeforeFirstReply(error)
            await connection.close()
            throw tlsError ?? error
        }
        return connection
    }
}
