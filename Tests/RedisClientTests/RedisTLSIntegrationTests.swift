import LocalTestServers
import RedisClient
import Testing

/// TLS against a redis-server that listens only on its TLS port (`--port 0 --tls-port`), with certificates made by
/// openssl for `localhost`: whatever works here went over TLS.
@Suite("Redis over TLS", .enabled(if: RedisTestServer.shouldRun && TestCertificates.isAvailable))
struct RedisTLSIntegrationTests {
    static let user = RedisTestServer.ACLUser(name: "rotator-app", password: "acl-pass-0123")

    static func configuration(
        _ server: RedisTestServer, host: String = "localhost", tls: RedisTLS, username: String? = user.name, password: String? = user.password
    ) -> RedisConfiguration {
        RedisConfiguration(
            host: host, port: server.port, password: password, username: username, connectTimeout: .seconds(5),
            commandTimeout: .seconds(2), reconnectBackoff: ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(300)), tls: tls
        )
    }

    @Test func commandsAndPubSubGoOverVerifiedTLSAsTheACLUser() async throws {
        let certificates = try TestCertificates.make()
        let server = try await RedisTestServer.start(tls: .init(certificates: certificates), users: [Self.user])
        defer { server.stop() }
        let configuration = Self.configuration(server, tls: RedisTLS(caFile: certificates.caFile))
        let client = RedisClient(configuration: configuration)
        let subscriber = RedisSubscriber(configuration: configuration, healthCheckInterval: .milliseconds(500))
        let events = EventRecorder(subscriber.messages(channel: "rotator:tls"))

        _ = try await client.send(["SET", "tls:key", "over tls"])
        #expect(try await client.send(["GET", "tls:key"]).string == "over tls")
        #expect(try await client.send(["ACL", "WHOAMI"]).string == Self.user.name)
        #expect(await eventually { events.all == [.subscribed] })
        #expect(try await client.publish("hello", to: "rotator:tls") == 1)
        #expect(await eventually { events.messages == ["hello"] })
        // Both connections are the ACL user's (the default user is off on this server).
        let clients = try await client.send(["CLIENT", "LIST"]).string ?? ""
        let users = clients.split(whereSeparator: \.isNewline).compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("user=") }.map { String($0.dropFirst("user=".count)) }
        }
        #expect(users.count == 2 && users.allSatisfy { $0 == Self.user.name }, "\(users)")

        events.cancel()
        await subscriber.shutdown()
        await client.shutdown()
    }

    @Test func aCAThatDidNotSignTheServerIsRefused() async throws {
        let certificates = try TestCertificates.make()
        let server = try await RedisTestServer.start(tls: .init(certificates: certificates), users: [Self.user])
        defer { server.stop() }
        let error = await #expect(throws: RedisTLSError.self) {
            try await RedisConnection.probe(Self.configuration(server, tls: RedisTLS(caFile: certificates.otherCAFile)))
        }
        #expect(error == .untrustedCertificate("certificate verify failed"))
        // The system's roots do not know the private CA either.
        await #expect(throws: RedisTLSError.untrustedCertificate("certificate verify failed")) {
            try await RedisConnection.probe(Self.configuration(server, tls: RedisTLS()))
        }
    }

    @Test func aCertificateForAnotherHostIsRefused() async throws {
        let certificates = try TestCertificates.make()
        let server = try await RedisTestServer.start(tls: .init(certificates: certificates), users: [Self.user])
        defer { server.stop() }
        // The certificate names `localhost` only: reaching the same server as 127.0.0.1 must fail.
        await #expect(throws: RedisTLSError.hostNameMismatch("127.0.0.1")) {
            try await RedisConnection.probe(Self.configuration(server, host: "127.0.0.1", tls: RedisTLS(caFile: certificates.caFile)))
        }
    }

    @Test func aServerThatAsksForAClientCertificateGetsOne() async throws {
        let certificates = try TestCertificates.make()
        let server = try await RedisTestServer.start(tls: .init(certificates: certificates, requireClientCertificate: true), users: [Self.user])
        defer { server.stop() }
        let withoutCertificate = Self.configuration(server, tls: RedisTLS(caFile: certificates.caFile))
        let error = await #expect(throws: RedisTLSError.self) { try await RedisConnection.probe(withoutCertificate) }
        if case .handshakeFailed = error {} else { Issue.record("expected a handshake failure, got \(String(describing: error))") }

        let withCertificate = Self.configuration(
            server, tls: RedisTLS(caFile: certificates.caFile, certificateFile: certificates.clientCertificateFile, keyFile: certificates.clientKeyFile)
        )
        try await RedisConnection.probe(withCertificate)
        // Wrong ACL credentials over a good TLS connection are Redis' own refusal, not a TLS error.
        await #expect(throws: RedisError.self) {
            try await RedisConnection.probe(Self.configuration(server, tls: withCertificate.tls!, username: nil, password: Self.user.password))
        }
    }

    @Test func aPlainServerIsNotMistakenForTLS() async throws {
        try await withRedisServer { server in
            var configuration = Self.configuration(server, tls: RedisTLS(), username: nil, password: nil)
            configuration.connectTimeout = .seconds(1)
            let error = await #expect(throws: RedisTLSError.self) { try await RedisConnection.probe(configuration) }
            #expect(error == .handshakeFailed("no TLS handshake within 1.0 seconds; does that port speak TLS?"))
        }
    }
}
