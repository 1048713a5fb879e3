import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore

/// The mock as a Hummingbird application, to run in a `ServiceGroup` of your own or with `runService()`.
///
/// - Parameters:
///   - port: 0 picks a free port; `onServerRunning` then learns which.
///   - onServerRunning: called once the socket is bound, with the bound port.
///   - logger: defaults to label "mock-upstream" at `warning` (or `LOG_LEVEL`), so a load test's output stays clean.
public func makeMockUpstreamApplication(
    state: MockUpstreamState,
    host: String = "127.0.0.1",
    port: Int,
    logger: Logger? = nil,
    tls: TLSConfiguration? = nil,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let logger = logger ?? {
        var logger = Logger(label: "mock-upstream")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }()
    let server: HTTPServerBuilder = try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1()
    return Application(
        responder: MockUpstreamResponder(state: state),
        server: server,
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
        onServerRunning: { channel in
            await onServerRunning(channel.localAddress?.port ?? port)
        },
        logger: logger
    )
}
