import Foundation
import LocalTestServers
import Logging
import RotatorApp
import ServiceLifecycle
import Testing

/// Enterprise mode on a MariaDB with `require_secure_transport=ON` and a certificate for `localhost`: a node with
/// `ssl-mode=VERIFY_IDENTITY` in `DATABASE_URL` serves admin writes from it; `DB_TLS=disabled` or a host name the
/// certificate does not hold stop the start at once with a message naming the setting.
@Suite(.serialized, .enabled(if: MariaDBTestServer.shouldRunTests && TestCertificates.isAvailable))
struct MySQLTLSNodeTests {
    static let secrets = [
        "JWT_SECRET": "mysql-tls-jwt-secret-0123456789", "ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    ]

    @Test func verifyIdentityServesAndDisabledOrAnotherHostRefusesToStart() async throws {
        let certificates = try TestCertificates.make()
        let server = try await MariaDBTestServer.start(tls: certificates, requireSecureTransport: true)
        try await server.makeDatabase(named: "rotator_tls")
        let url = "mysql://root@localhost:\(server.port)/rotator_tls?ssl-mode=VERIFY_IDENTITY&ssl-ca=\(certificates.caFile)"

        try await withRunningNode(environment: Self.secrets.merging(["DATABASE_URL": url]) { $1 }) { node in
            let id = try await node.createConfig(slug: "over-tls")
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "sk-mysql-tls"))
            #expect(try await node.keys(configID: id).count == 2)
            #expect(try await node.proxy("over-tls").status == 200)
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-mysql-tls-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func refusal(_ environment: [String: String]) async -> (message: String, seconds: Double) {
            var environment = Self.secrets.merging(environment) { $1 }
            environment["DATABASE_PATH"] = directory + "/rotator.db"
            environment["GLOBAL_PROXY_KEYS"] = TestNode.proxyKey
            environment["ADMIN_PASSWORD"] = TestNode.adminPassword
            let started = ContinuousClock.now
            do {
                var settings = try Settings.fromEnvironment(environment)
                settings.port = 0
                let node = try await RotatorNode.make(settings: settings, logger: Logger(label: "mysql-tls-test"))
                // Started although it must not: run and stop it, so that its clients are shut down before the test fails.
                let group = ServiceGroup(configuration: .init(services: [await node.application()], logger: Logger(label: "mysql-tls-test")))
                let run = Task { try await group.run() }
                await group.triggerGracefulShutdown()
                _ = try? await run.value
                return ("started", 0)
            } catch {
                return ("\(error)", (ContinuousClock.now - started) / .seconds(1))
            }
        }
        // Waiting cannot fix either: no 30 s of retries.
        let plain = await refusal(["DB_TYPE": "mysql", "DB_HOST": "127.0.0.1", "DB_PORT": "\(server.port)", "DB_NAME": "rotator_tls", "DB_TLS": "disabled"])
        #expect(plain.message.contains("DB_TLS=disabled") && plain.message.contains("set DB_TLS=required or stricter"), "\(plain.message)")
        #expect(plain.seconds < 10)
        let otherHost = await refusal([
            "DATABASE_URL": "mysql://root@127.0.0.1:\(server.port)/rotator_tls?ssl-mode=VERIFY_IDENTITY&ssl-ca=\(certificates.caFile)",
        ])
        #expect(otherHost.message.contains("does not name the host in DB_HOST or DATABASE_URL"), "\(otherHost.message)")
        #expect(otherHost.seconds < 10)
        let wrongCA = await refusal(["DATABASE_URL": "mysql://root@localhost:\(server.port)/rotator_tls?ssl-mode=VERIFY_CA&ssl-ca=\(certificates.otherCAFile)"])
        #expect(wrongCA.message.contains("not signed by the CA in DB_CA_FILE"), "\(wrongCA.message)")
        await server.stop(removingData: true)
    }
}
