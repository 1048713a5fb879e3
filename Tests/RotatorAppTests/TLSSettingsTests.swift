import Foundation
import MariaDBDriver
import RedisClient
import RotatorApp
import Testing

/// `rediss://`, `REDIS_TLS`, `REDIS_USERNAME` and the Redis certificate files; `DB_TLS` and the database's files,
/// or the same as MySQL clients spell them in `DATABASE_URL`.
@Suite struct TLSSettingsTests {
    /// Settings only check that the files are readable; their contents are the connections' business.
    static let file: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tls-settings-\(UUID().uuidString).pem").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("pem".utf8))
        return path
    }()

    @Test func redisTLSAndTheACLUserAreKept() throws {
        let url = try Settings.fromEnvironment(["REDIS_URL": "rediss://app:p%40ss@cache.example.com:6380/1", "REDIS_CA_FILE": Self.file])
        #expect(url.redis?.username == "app" && url.redis?.password == "p@ss" && url.redis?.port == 6380 && url.redis?.database == 1)
        #expect(url.redis?.tls == RedisTLS(caFile: Self.file, certificateFile: nil, keyFile: nil))
        #expect(!"\(url)".contains("p@ss"))

        let parts = try Settings.fromEnvironment([
            "CACHE_TYPE": "redis", "REDIS_HOST": "cache", "REDIS_USERNAME": "app", "REDIS_PASSWORD": "pw", "REDIS_TLS": "true",
            "REDIS_CERT_FILE": Self.file, "REDIS_KEY_FILE": Self.file,
        ])
        #expect(parts.redis?.username == "app")
        #expect(parts.redis?.tls == RedisTLS(caFile: nil, certificateFile: Self.file, keyFile: Self.file))

        let plain = try Settings.fromEnvironment(["REDIS_URL": "redis://:pw@cache:6379/0"])
        #expect(plain.redis?.tls == nil && plain.redis?.username == nil)
        // The URL's user wins over REDIS_USERNAME.
        #expect(try Settings.fromEnvironment(["REDIS_URL": "redis://app:pw@cache", "REDIS_USERNAME": "other"]).redis?.username == "app")
    }

    @Test func databaseTLSModesAndFiles() throws {
        let mysql = ["DB_TYPE": "mysql", "DB_HOST": "db"]
        #expect(try Settings.fromEnvironment(mysql).mysql?.tls == MariaDBTLS(mode: .preferred))
        for mode in MariaDBTLS.Mode.allCases where mode != .verifyCA {
            #expect(try Settings.fromEnvironment(mysql.merging(["DB_TLS": mode.rawValue.uppercased()]) { $1 }).mysql?.tls.mode == mode)
        }
        let files = try Settings.fromEnvironment(mysql.merging([
            "DB_TLS": "verify_identity", "DB_CA_FILE": Self.file, "DB_CERT_FILE": Self.file, "DB_KEY_FILE": Self.file,
        ]) { $1 })
        #expect(files.mysql?.tls == MariaDBTLS(mode: .verifyIdentity, caFile: Self.file, certificateFile: Self.file, keyFile: Self.file))
        // A CA without a mode means verify_ca, as for MySQL's clients.
        #expect(try Settings.fromEnvironment(mysql.merging(["DB_CA_FILE": Self.file]) { $1 }).mysql?.tls == MariaDBTLS(mode: .verifyCA, caFile: Self.file))

        let url = try Settings.fromEnvironment(["DATABASE_URL": "mysql://u:pw@db:3306/rotator?ssl-mode=VERIFY_IDENTITY&ssl-ca=\(Self.file)"])
        #expect(url.mysql?.tls == MariaDBTLS(mode: .verifyIdentity, caFile: Self.file))
        #expect(url.mysql?.database == "rotator")
        #expect(try Settings.fromEnvironment(["DATABASE_URL": "mysql://u:pw@db/rotator?ssl_mode=required"]).mysql?.tls.mode == .required)
    }

    @Test(arguments: [
        (["REDIS_URL": "rediss://cache", "REDIS_TLS": "false"], "REDIS_TLS"),
        (["REDIS_URL": "redis://cache", "REDIS_CA_FILE": file], "REDIS_CA_FILE"),
        (["REDIS_URL": "rediss://cache", "REDIS_CA_FILE": "/nonexistent/ca.pem"], "REDIS_CA_FILE"),
        (["REDIS_URL": "rediss://cache", "REDIS_CERT_FILE": file], "REDIS_KEY_FILE"),
        (["REDIS_URL": "redis://cache", "REDIS_TLS": "maybe"], "REDIS_TLS"),
        (["REDIS_URL": "redis://cache", "REDIS_USERNAME": "app"], "REDIS_USERNAME"),
        (["REDIS_URL": "ftp://cache"], "rediss://"),
        (["DB_TYPE": "mysql", "DB_HOST": "db", "DB_TLS": "on"], "DB_TLS"),
        (["DB_TYPE": "mysql", "DB_HOST": "db", "DB_TLS": "verify_ca"], "DB_CA_FILE"),
        (["DB_TYPE": "mysql", "DB_HOST": "db", "DB_TLS": "required", "DB_CA_FILE": file], "DB_CA_FILE"),
        (["DB_TYPE": "mysql", "DB_HOST": "db", "DB_TLS": "verify_identity", "DB_CA_FILE": "/nonexistent/ca.pem"], "DB_CA_FILE"),
        (["DB_TYPE": "mysql", "DB_HOST": "db", "DB_KEY_FILE": file], "DB_CERT_FILE"),
        (["DB_TYPE": "mysql", "DB_HOST": "db", "DB_TLS": "disabled", "DB_CERT_FILE": file, "DB_KEY_FILE": file], "DB_TLS=disabled"),
        (["DATABASE_URL": "mysql://u@db/r?ssl-mode=sometimes"], "ssl-mode"),
        (["DATABASE_URL": "mysql://u@db/r?ssl-mode=required", "DB_TLS": "disabled"], "disagree"),
    ])
    func badTLSValuesNameTheVariable(environment: [String: String], variable: String) {
        do {
            _ = try Settings.fromEnvironment(environment)
            Issue.record("accepted \(environment)")
        } catch {
            #expect("\(error)".contains(variable), "\(error)")
        }
    }
}
