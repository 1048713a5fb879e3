import Foundation
import MariaDBDriver
import RedisClient

/// The store's settings: `DATABASE_URL` or `DATABASE_PATH`, and TLS to MySQL/MariaDB (`DB_TLS`, the files, `ssl-mode` in the URL).
extension Settings {
    mutating func readDatabase(_ reader: inout EnvironmentReader) throws {
        let url = reader.string("DATABASE_URL")
        if let type = reader.string("DB_TYPE") {
            guard let parsed = DatabaseType(rawValue: type.lowercased()) else {
                throw SettingsError("DB_TYPE must be 'sqlite' or 'mysql' (got '\(type)')")
            }
            databaseType = parsed
        } else if let url, url.lowercased().hasPrefix("mysql://") {
            databaseType = .mysql
        }
        guard databaseType == .mysql else { return }
        if let url {
            guard let parsed = URLComponents(string: url), parsed.scheme?.lowercased() == "mysql", let host = parsed.host, !host.isEmpty else {
                throw SettingsError("DATABASE_URL must look like mysql://user:password@host:3306/database")
            }
            let database = parsed.path.split(separator: "/").first.map(String.init) ?? "rotator"
            mysql = MySQLSettings(
                host: host, port: parsed.port ?? 3306, user: parsed.user?.removingPercentEncoding ?? "root",
                password: parsed.password?.removingPercentEncoding ?? "", database: database
            )
        } else {
            guard let host = reader.string("DB_HOST") else {
                throw SettingsError("DB_TYPE=mysql needs DB_HOST (with DB_USER, DB_PASSWORD, DB_NAME, DB_PORT) or DATABASE_URL=mysql://...")
            }
            mysql = MySQLSettings(
                host: host, port: try reader.integer("DB_PORT", in: 1...65535) ?? 3306, user: reader.string("DB_USER") ?? "root",
                password: reader.string("DB_PASSWORD") ?? "", database: reader.string("DB_NAME") ?? "rotator"
            )
        }
        mysql?.tls = try Self.readDatabaseTLS(&reader, url: url.flatMap { URLComponents(string: $0) })
    }

    /// The path, when it names a readable file.
    static func readablePEMFile(_ variable: String, _ path: String?) throws -> String? {
        guard let path else { return nil }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw SettingsError("\(variable)=\(path) is not a readable file (a PEM file)")
        }
        return path
    }

    /// `DB_TLS`, `DB_CA_FILE`, `DB_CERT_FILE`, `DB_KEY_FILE`, or the same as `DATABASE_URL` query options spelled as
    /// MySQL clients spell them (`ssl-mode=VERIFY_IDENTITY&ssl-ca=/path&ssl-cert=…&ssl-key=…`). A CA without a mode
    /// means `verify_ca`, as for MySQL's clients; a CA a mode would ignore is refused rather than silently unused.
    static func readDatabaseTLS(_ reader: inout EnvironmentReader, url: URLComponents?) throws -> MariaDBTLS {
        func value(_ variable: String, _ fromEnvironment: String?, query names: [String]) throws -> String? {
            let fromURL = url?.queryItems?.first { names.contains($0.name.lowercased()) }?.value.flatMap { $0.isEmpty ? nil : $0 }
            if let fromURL, let fromEnvironment, fromURL.lowercased() != fromEnvironment.lowercased() {
                throw SettingsError("\(variable)=\(fromEnvironment) and \(names[0])=\(fromURL) in DATABASE_URL disagree: set one of them")
            }
            return fromURL ?? fromEnvironment
        }
        let modes = MariaDBTLS.Mode.allCases.map(\.rawValue).joined(separator: ", ")
        var mode: MariaDBTLS.Mode?
        if let text = try value("DB_TLS", reader.string("DB_TLS"), query: ["ssl-mode", "ssl_mode", "sslmode"]) {
            guard let parsed = MariaDBTLS.Mode(rawValue: text.lowercased()) else {
                throw SettingsError("DB_TLS (or ssl-mode in DATABASE_URL) must be one of \(modes) (got '\(text)')")
            }
            mode = parsed
        }
        let files = try [
            ("DB_CA_FILE", try value("DB_CA_FILE", reader.string("DB_CA_FILE"), query: ["ssl-ca", "ssl_ca"])),
            ("DB_CERT_FILE", try value("DB_CERT_FILE", reader.string("DB_CERT_FILE"), query: ["ssl-cert", "ssl_cert"])),
            ("DB_KEY_FILE", try value("DB_KEY_FILE", reader.string("DB_KEY_FILE"), query: ["ssl-key", "ssl_key"])),
        ].map { try Self.readablePEMFile($0.0, $0.1) }
        let tls = MariaDBTLS(mode: mode ?? (files[0] == nil ? .preferred : .verifyCA), caFile: files[0], certificateFile: files[1], keyFile: files[2])
        if tls.caFile != nil, !tls.mode.verifiesCertificate {
            throw SettingsError("DB_CA_FILE is only used by DB_TLS=verify_ca or verify_identity (DB_TLS=\(tls.mode.rawValue) would ignore it)")
        }
        if tls.mode == .verifyCA, tls.caFile == nil {
            throw SettingsError("DB_TLS=verify_ca needs DB_CA_FILE (the CA that signed the server's certificate); verify_identity can use the system's CAs")
        }
        if (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw SettingsError("DB_CERT_FILE and DB_KEY_FILE go together: a client certificate needs its key")
        }
        if tls.certificateFile != nil, tls.mode == .disabled {
            throw SettingsError("DB_CERT_FILE and DB_KEY_FILE need TLS: DB_TLS=disabled would ignore them")
        }
        return tls
    }
}
