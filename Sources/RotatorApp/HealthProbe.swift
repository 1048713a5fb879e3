import AsyncHTTPClient
import NIOCore

/// `rotator healthcheck`: asks the node's own `GET /healthz` on this machine, so a container image needs no curl for
/// its HEALTHCHECK. Healthy means a 200 answer within the timeout; anything else (refused, timed out, another status)
/// is not.
public struct HealthProbe: Sendable, Equatable {
    public var url: String
    public var timeout: TimeAmount

    /// The node listens on `BIND_HOST:BACKEND_PORT`; a wildcard bind host is reached through loopback.
    public init(settings: Settings, timeout: TimeAmount = .seconds(3)) {
        let host: String
        switch settings.host {
        case "0.0.0.0", "", "::", "[::]": host = "127.0.0.1"
        case let literal where literal.contains(":") && !literal.hasPrefix("["): host = "[\(literal)]"
        case let name: host = name
        }
        self.init(url: "http://\(host):\(settings.port)/healthz", timeout: timeout)
    }

    public init(url: String, timeout: TimeAmount) {
        self.url = url
        self.timeout = timeout
    }

    public func isHealthy() async -> Bool {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: timeout, read: timeout), decompression: .disabled
        )
        // A refused connection means "not up": answer now instead of retrying until the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let healthy: Bool
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: timeout)
            healthy = response.status == .ok
            _ = try? await response.body.collect(upTo: 1 << 16)
        } catch {
            healthy = false
        }
        try? await client.shutdown()
        return healthy
    }
}
