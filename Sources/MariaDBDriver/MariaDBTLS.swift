import RotatorSQL

/// TLS to MariaDB/MySQL (`DB_TLS`), with what each mode does on libmariadb 3.3 (MariaDB Connector/C), checked
/// against a real server:
///
/// - `disabled`: no TLS option is set, so the connection is plain text. A server with `require_secure_transport`
///   refuses it (MariaDB answers "Access denied", MySQL error 3159).
/// - `preferred` (default): TLS when the server offers it, plain text when it does not; the certificate is not
///   checked, so this guards against eavesdropping, not against a man in the middle.
/// - `required`: like `preferred`, but a connection without TLS is closed and refused. libmariadb 3.3 falls back
///   to plain text silently, so the driver checks the negotiated cipher after the handshake: against a server
///   without TLS the login (a hashed password) has already crossed the wire when the connection is refused.
/// - `verify_ca`: `required`, and the server's certificate must chain to the CA in `caFile` (or the system's roots);
///   the host name is not compared (libmariadb checks the chain as soon as a CA is set).
/// - `verify_identity`: `verify_ca`, and the certificate must name the host connected to
///   (`MYSQL_OPT_SSL_VERIFY_SERVER_CERT`, which in libmariadb 3.3 checks the chain and the host name together, and
///   refuses a server without TLS before the login is sent).
///
/// `required` and stricter always connect over TCP, `localhost` included (a Unix socket has no TLS).
public struct MariaDBTLS: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        case disabled
        case preferred
        case required
        case verifyCA = "verify_ca"
        case verifyIdentity = "verify_identity"

        /// A connection without TLS is refused.
        public var requiresTLS: Bool { self == .required || self == .verifyCA || self == .verifyIdentity }
        /// The server's certificate chain is checked.
        public var verifiesCertificate: Bool { self == .verifyCA || self == .verifyIdentity }
    }

    public var mode: Mode
    /// PEM file of the CA(s) that signed the server's certificate (`DB_CA_FILE`); used by the verifying modes.
    public var caFile: String?
    /// A client certificate and its key (`DB_CERT_FILE`, `DB_KEY_FILE`), for servers that ask for one.
    public var certificateFile: String?
    public var keyFile: String?

    public init(mode: Mode = .preferred, caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.mode = mode
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

extension MariaDBTLS {
    /// CR_SSL_CONNECTION_ERROR: libmariadb's code for every TLS failure, also used for "the server offers no TLS".
    public static let tlsErrorCode: UInt32 = 2026

    /// Errors no retry can fix: TLS failures, access denied (wrong user or password, or plain text refused by
    /// `require_secure_transport`), MySQL's ER_SECURE_TRANSPORT_REQUIRED.
    public static func isSettingsError(_ error: any Error) -> Bool {
        guard let error = error as? SQLError else { return false }
        return [Int32(tlsErrorCode), 1044, 1045, 3159].contains(error.code)
    }

    /// What to fix, appended to a connect error.
    static func hint(code: UInt32, message: String, tls: MariaDBTLS) -> String {
        switch code {
        case tlsErrorCode:
            if message.contains("does not support it") {
                return " (the server offers no TLS; DB_TLS=\(tls.mode.rawValue) requires it)"
            }
            if message.contains("Validation of SSL server certificate failed") {
                return " (DB_TLS=verify_identity: the certificate does not name the host in DB_HOST or DATABASE_URL)"
            }
            if message.contains("certificate") || message.contains("issuer") {
                return " (DB_TLS=\(tls.mode.rawValue): the server's certificate is not signed by the CA in DB_CA_FILE"
                    + (tls.caFile == nil ? ", or by a CA the system trusts)" : ")")
            }
            return " (DB_TLS=\(tls.mode.rawValue))"
        case 1045, 3159 where tls.mode == .disabled:
            return " (if the server requires secure transport, set DB_TLS=required or stricter instead of disabled)"
        default:
            return ""
        }
    }
}
