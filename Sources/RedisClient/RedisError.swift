/// Why a Redis command did not produce a reply.
public enum RedisError: Error, Sendable, Equatable {
    /// The connection closed (or was closed after a timeout or protocol error) before the reply arrived.
    /// The command may or may not have run on the server.
    case connectionClosed
    /// No connection to Redis right now; the client is reconnecting in the background. The command was not
    /// sent.
    case unavailable(String)
    /// No reply within the command timeout. The connection is closed, since its reply order is lost; the
    /// command may or may not have run on the server.
    case timeout
    /// An error reply (`-ERR ...`, `-NOSCRIPT ...`, `-WRONGTYPE ...`), message without the leading `-`.
    case server(String)
    /// The server sent bytes that are not RESP, or a reply nobody asked for.
    case protocolError(String)
    /// Sentinel named a server that is not (or no longer) the master; the command was not sent.
    case notMaster(String)
}

extension RedisError {
    /// The error code of a server error: `NOSCRIPT`, `WRONGTYPE`, `ERR`, ...
    public var serverErrorCode: String? {
        guard case .server(let message) = self else { return nil }
        return String(message.prefix(while: { $0 != " " }))
    }

    /// True when the error says nothing about the command's effect but only that Redis could not be reached
    /// or did not answer: the caller should fall back to local operation.
    public var isConnectivityFailure: Bool {
        switch self {
        case .connectionClosed, .unavailable, .timeout, .protocolError, .notMaster: true
        case .server: false
        }
    }
}

extension RedisError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .connectionClosed: "Redis connection closed"
        case .unavailable(let reason): "Redis unavailable: \(reason)"
        case .timeout: "Redis command timed out"
        case .server(let message): "Redis error: \(message)"
        case .protocolError(let reason): "Redis protocol error: \(reason)"
        case .notMaster(let reason): "Redis refused as master: \(reason)"
        }
    }
}
