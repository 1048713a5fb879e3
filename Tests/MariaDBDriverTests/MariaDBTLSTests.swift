import Foundation
import LocalTestServers
import MariaDBDriver
import RotatorSQL
import Testing

/// `DB_TLS` modes against a real mariadbd with `ssl_cert`/`ssl_key`/`ssl_ca` (a certificate for `localhost` made by
/// openssl) and `require_secure_transport=ON`, and against the shared server, which offers no TLS.
@Suite("MariaDB over TLS", .serialized, .enabled(if: MariaDBTestServer.shouldRunTests && TestCertificates.isAvailable, mariaDBUnavailable))
struct MariaDBTLSTests {
    struct Secure: Sendable {
        let server: MariaDBTestServer
        let certificates: TestCertificates
    }

    /// One TLS-only server for the suite (a start costs seconds).
    static let secure = Task { () throws -> Secure in
        let certificates = try TestCertificates.make()
        return Secure(server: try await MariaDBTestServer.start(tls: certificates, requireSecureTransport: true), certificates: certificates)
    }

    static func settings(_ server: MariaDBTestServer, host: String, tls: MariaDBTLS) -> MariaDBConnectionSettings {
        MariaDBConnectionSettings(
            host: host, port: server.port, user: server.user, password: server.password, database: "mysql",
            connectTimeout: .seconds(5), readTimeout: .seconds(10), writeTimeout: .seconds(10), tls: tls
        )
    }

    /// The cipher the server sees for this session ("" without TLS).
    static func cipher(_ settings: MariaDBConnectionSettings) async throws -> String {
        let database = try await MariaDBDatabase.connect(settings, poolSize: 1)
        let cipher = try await database.withConnection { connection in
            try connection.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'", []).first?.string("Value") ?? ""
        }
        try await database.close()
        return cipher
    }

    static func refusal(_ settings: MariaDBConnectionSettings) async -> SQLError? {
        do {
            let database = try await MariaDBDatabase.connect(settings, poolSize: 1)
            try? await database.close()
            return nil
        } catch {
            return error as? SQLError
        }
    }

    @Test func verifyIdentityConnectsOverTLSToTheNamedHost() async throws {
        let secure = try await Self.secure.value
        let tls = MariaDBTLS(mode: .verifyIdentity, caFile: secure.certificates.caFile)
        #expect(try await !Self.cipher(Self.settings(secure.server, host: "localhost", tls: tls)).isEmpty)
        // With a client certificate too (the server checks it against its ssl_ca).
        let withClientCertificate = MariaDBTLS(
            mode: .verifyIdentity, caFile: secure.certificates.caFile, certificateFile: secure.certificates.clientCertificateFile,
            keyFile: secure.certificates.clientKeyFile
        )
        #expect(try await !Self.cipher(Self.settings(secure.server, host: "localhost", tls: withClientCertificate)).isEmpty)
    }

    @Test func verifyIdentityRefusesAnotherHostNameAndVerifyCADoesNot() async throws {
        let secure = try await Self.secure.value
        // The certificate names `localhost`; the same server reached as 127.0.0.1.
        let refused = await Self.refusal(Self.settings(secure.server, host: "127.0.0.1", tls: MariaDBTLS(mode: .verifyIdentity, caFile: secure.certificates.caFile)))
        #expect(refused?.code == 2026, "\(String(describing: refused))")
        #expect(refused?.message.contains("does not name the host") == true, "\(String(describing: refused))")
        // verify_ca checks the chain only: the same connection works.
        #expect(try await !Self.cipher(Self.settings(secure.server, host: "127.0.0.1", tls: MariaDBTLS(mode: .verifyCA, caFile: secure.certificates.caFile))).isEmpty)
    }

    @Test func aCAThatDidNotSignTheServerIsRefusedByBothVerifyingModes() async throws {
        let secure = try await Self.secure.value
        for mode in [MariaDBTLS.Mode.verifyCA, .verifyIdentity] {
            let refused = await Self.refusal(Self.settings(secure.server, host: "localhost", tls: MariaDBTLS(mode: mode, caFile: secure.certificates.otherCAFile)))
            #expect(refused?.code == 2026, "\(mode): \(String(describing: refused))")
            #expect(refused?.message.contains("not signed by the CA in DB_CA_FILE") == true, "\(mode): \(String(describing: refused))")
        }
        // verify_ca without a CA would verify nothing with libmariadb: refused before connecting.
        let noCA = await Self.refusal(Self.settings(secure.server, host: "localhost", tls: MariaDBTLS(mode: .verifyCA)))
        #expect(noCA?.message.contains("DB_TLS=verify_ca needs DB_CA_FILE") == true, "\(String(describing: noCA))")
    }

    @Test func disabledIsRefusedByTheServerWithAHint() async throws {
        let secure = try await Self.secure.value
        let refused = await Self.refusal(Self.settings(secure.server, host: "127.0.0.1", tls: MariaDBTLS(mode: .disabled)))
        #expect(refused?.code == 1045, "\(String(describing: refused))")
        #expect(refused?.message.contains("set DB_TLS=required or stricter") == true, "\(String(describing: refused))")
        #expect(MariaDBTLS.isSettingsError(try #require(refused)))
        // preferred (the default) and required use TLS on this server, unverified.
        #expect(try await !Self.cipher(Self.settings(secure.server, host: "127.0.0.1", tls: MariaDBTLS())).isEmpty)
        #expect(try await !Self.cipher(Self.settings(secure.server, host: "127.0.0.1", tls: MariaDBTLS(mode: .required))).isEmpty)
    }

    @Test func aServerWithoutTLSIsRefusedByEveryModeThatRequiresIt() async throws {
        let plain = try await MariaDBTestServer.shared()
        let certificates = try await Self.secure.value.certificates
        // preferred falls back to plain text; disabled never tries.
        #expect(try await Self.cipher(Self.settings(plain, host: "127.0.0.1", tls: MariaDBTLS())).isEmpty)
        #expect(try await Self.cipher(Self.settings(plain, host: "127.0.0.1", tls: MariaDBTLS(mode: .disabled))).isEmpty)
        for tls in [MariaDBTLS(mode: .required), MariaDBTLS(mode: .verifyCA, caFile: certificates.caFile)] {
            let refused = await Self.refusal(Self.settings(plain, host: "127.0.0.1", tls: tls))
            #expect(refused?.code == 2026 && refused?.message.contains("does not offer TLS") == true, "\(tls.mode): \(String(describing: refused))")
        }
        let identity = await Self.refusal(Self.settings(plain, host: "localhost", tls: MariaDBTLS(mode: .verifyIdentity, caFile: certificates.caFile)))
        #expect(identity?.code == 2026 && identity?.message.contains("the server offers no TLS") == true, "\(String(describing: identity))")
    }
}
