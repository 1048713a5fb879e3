import Foundation
import LocalTestServers
import Logging
import RedisClient
import RotatorApp
import ServiceLifecycle
import Testing

/// Enterprise mode on a Redis that speaks only TLS (`--port 0 --tls-port`), asks for a client certificate and has
/// its default user switched off: a node that proxies through it did every coordination call over TLS as the ACL
/// user, its subscriber included.
@Suite(.serialized, .enabled(if: RedisTestServer.shouldRun && TestCertificates.isAvailable))
struct RedisTLSNodeTests {
    static let user = RedisTestServer.ACLUser(name: "rotator", password: "node-acl-pass-0123")

    static func environment(_ redis: RedisTestServer, host: String = "localhost", caFile: String, certificates: TestCertificates) -> [String: String] {
        [
            "REDIS_URL": "rediss://\(user.name):\(user.password)@\(host):\(redis.port)/0", "REDIS_CA_FILE": caFile,
            "REDIS_CERT_FILE": certificates.clientCertificateFile, "REDIS_KEY_FILE": certificates.clientKeyFile,
            "JWT_SECRET": "redis-tls-jwt-secret-0123456789", "ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ]
    }

    @Test func aNodeCoordinatesOverTLSAsTheACLUser() async throws {
        let certificates = try TestCertificates.make()
        let redis = try await RedisTestServer.start(tls: .init(certificates: certificates, requireClientCertificate: true), users: [Self.user])
        defer { redis.stop() }
        let inspector = RedisClient(configuration: RedisConfiguration(
            host: "localhost", port: redis.port, password: Self.user.password, username: Self.user.name,
            tls: RedisTLS(caFile: certificates.caFile, certificateFile: certificates.clientCertificateFile, keyFile: certificates.clientKeyFile)
        ))
        try await inspector.whileRunning { inspector in
            try await withRunningNode(environment: Self.environment(redis, caFile: certificates.caFile, certificates: certificates)) { node in
                let id = try await node.createConfig(slug: "tls")
                try await node.addKeys(configID: id, sampleKeys(3, prefix: "sk-tls"))
                // Not degraded: the coordinator reaches Redis and the subscriber is subscribed.
                let deadline = ContinuousClock.now + .seconds(60)
                var health: [String: Any] = [:]
                while ContinuousClock.now < deadline {
                    health = try await node.send(.GET, "/healthz").object()
                    if health["degraded"] as? Bool == false { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(health["degraded"] as? Bool == false, "\(health)")

                _ = try await inspector.send(["CONFIG", "RESETSTAT"])
                for _ in 0..<20 { #expect(try await node.proxy("tls").status == 200) }
                let stats = try await inspector.send(["INFO", "commandstats"]).string ?? ""
                let evalsha = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_evalsha:") }
                    .flatMap { $0.split(separator: ",").first?.split(separator: "=").last }.flatMap { Int($0) } ?? 0
                #expect(evalsha >= 20, "each proxied request picked its key in Redis (\(evalsha) EVALSHA)")
                let subscribers = try await inspector.send(["PUBSUB", "NUMPAT"]).int ?? 0
                let channels = try await inspector.send(["PUBSUB", "CHANNELS"]).array ?? []
                #expect(!channels.isEmpty || subscribers > 0, "the node's subscriber is connected over TLS")
                let users = (try await inspector.send(["CLIENT", "LIST"]).string ?? "").split(whereSeparator: \.isNewline)
                    .compactMap { $0.split(separator: " ").first { $0.hasPrefix("user=") } }
                #expect(users.count >= 3 && users.allSatisfy { $0 == "user=\(Self.user.name)" }, "\(users)")
            }
        }
    }

    @Test func aWrongCAOrHostNameRefusesToStartNamingTheSetting() async throws {
        let certificates = try TestCertificates.make()
        let redis = try await RedisTestServer.start(tls: .init(certificates: certificates, requireClientCertificate: true), users: [Self.user])
        defer { redis.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-redis-tls-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func start(_ environment: [String: String]) async throws {
            var environment = environment
            environment["DATABASE_PATH"] = directory + "/rotator.db"
            environment["GLOBAL_PROXY_KEYS"] = TestNode.proxyKey
            environment["ADMIN_PASSWORD"] = TestNode.adminPassword
            var settings = try Settings.fromEnvironment(environment)
            settings.port = 0
            let node = try await RotatorNode.make(settings: settings, logger: Logger(label: "redis-tls-test"))
            // Started although it must not: run and stop it, so that its clients are shut down before the test fails.
            let group = ServiceGroup(configuration: .init(services: [await node.application()], logger: Logger(label: "redis-tls-test")))
            let run = Task { try await group.run() }
            await group.triggerGracefulShutdown()
            _ = try? await run.value
        }

        let wrongCA = await #expect(throws: SettingsError.self) {
            try await start(Self.environment(redis, caFile: certificates.otherCAFile, certificates: certificates))
        }
        #expect(wrongCA?.description.contains("REDIS_CA_FILE") == true, "\(String(describing: wrongCA))")
        #expect(wrongCA?.description.contains("not trusted") == true, "\(String(describing: wrongCA))")
        #expect(wrongCA?.description.contains(Self.user.password) == false)

        let wrongHost = await #expect(throws: SettingsError.self) {
            try await start(Self.environment(redis, host: "127.0.0.1", caFile: certificates.caFile, certificates: certificates))
        }
        #expect(wrongHost?.description.contains("does not match the host name '127.0.0.1'") == true, "\(String(describing: wrongHost))")
        #expect(wrongHost?.description.contains("REDIS_URL") == true, "\(String(describing: wrongHost))")
    }
}
