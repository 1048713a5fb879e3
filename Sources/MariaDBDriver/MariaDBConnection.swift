#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CMariaDB
import Logging
import RotatorSQL

/// One pooled connection to the server. Not thread-safe by itself: `MariaDBDatabase` lends it to one closure
/// at a time, under its slot's lock, on its thread pool. Owns the `MYSQL` handle and every statement.
///
/// A connection that fails with a lost-connection error closes its handle at once; every later call in the
/// same loan fails with `.unavailable` (a transaction cannot survive a reconnect), and the next loan opens a
/// new handle. Nothing is retried: a write whose reply was lost may have been applied.
final class MariaDBConnection: SQLConnection, SQLSavepointNesting {
    private let settings: MariaDBConnectionSettings
    private let logger: Logger
    private let statementCacheCapacity: Int
    private var handle: UnsafeMutablePointer<MYSQL>?
    /// Prepared statements by SQL text: the repository's queries are a fixed set.
    private var statements: [String: MariaDBStatement] = [:]
    var transactionDepth = 0

    init(settings: MariaDBConnectionSettings, logger: Logger, statementCacheCapacity: Int = 64) {
        self.settings = settings
        self.logger = logger
        self.statementCacheCapacity = max(1, statementCacheCapacity)
    }

    deinit {
        disconnect()
    }

    /// Called before each loan: opens the handle if there is none, or if the server closed it while it sat
    /// idle (restart, `wait_timeout`, killed connection), which costs no round trip to find out.
    func prepareForUse() throws {
        transactionDepth = 0
        if let handle {
            guard Self.serverHasClosed(handle) else { return }
            logger.info("MariaDB closed an idle connection; reconnecting")
            disconnect()
        }
        try connect()
    }

    /// Closes statements and the handle. Safe to call twice.
    func disconnect() {
        statements.removeAll()
        if let handle {
            mysql_close(handle)
            self.handle = nil
        }
        transactionDepth = 0
    }

    // MARK: SQLConnection

    func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        try run(sql, binds, collectingRows: true).rows
    }

    @discardableResult
    func execute(_ sql: String, _ binds: [SQLValue]) throws -> SQLExecutionResult {
        let outcome = try run(sql, binds, collectingRows: false)
        return SQLExecutionResult(changes: outcome.changes, lastInsertID: outcome.lastInsertID)
    }

    @discardableResult
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try nestedTransaction(body)
    }

    // MARK: SQLSavepointNesting

    let beginStatement = "START TRANSACTION"

    /// False once the connection is lost: the server rolls back on its side. After a deadlock the server has
    /// already rolled back the whole transaction, and ROLLBACK TO SAVEPOINT fails harmlessly.
    var needsRollback: Bool { handle != nil }

    func runControl(_ sql: String) throws {
        try control(sql)
    }

    // MARK: Internals

    private func connect() throws {
        if settings.tls.mode == .verifyCA, settings.tls.caFile == nil {
            // libmariadb verifies a chain only against a CA it was given: without one, verify_ca would verify nothing.
            throw SQLError(.unavailable, code: Int32(MariaDBTLS.tlsErrorCode), "DB_TLS=verify_ca needs DB_CA_FILE (the CA that signed the server's certificate)")
        }
        try MariaDBLibrary.ensureInitialised()
        guard let mysql = mysql_init(nil) else {
            throw SQLError(.unavailable, "cannot allocate a MariaDB connection handle")
        }
        var connectTimeout = settings.connectTimeout.wholeSecondsRoundedUp
        var readTimeout = settings.readTimeout.wholeSecondsRoundedUp
        var writeTimeout = settings.writeTimeout.wholeSecondsRoundedUp
        var reconnect: my_bool = 0  // reconnecting is ours to decide: libmariadb would do it mid-transaction
        var localInfile: UInt32 = 0  // LOAD DATA LOCAL lets a server read client files
        mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &readTimeout)
        mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &writeTimeout)
        mysql_options(mysql, MYSQL_OPT_RECONNECT, &reconnect)
        mysql_options(mysql, MYSQL_OPT_LOCAL_INFILE, &localInfile)
        mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        applyTLS(settings.tls, to: mysql)

        // CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, as SQLite does, not only those it changed.
        let connected = mysql_real_connect(
            mysql, settings.host, settings.user, settings.password, settings.database,
            UInt32(clamping: settings.port), nil, UInt(CLIENT_FOUND_ROWS)
        )
        guard connected != nil else {
            let code = mysql_errno(mysql)
            let message = String(cString: mysql_error(mysql))
            mysql_close(mysql)
            // Whatever the reason (refused, timeout, access denied, unknown database), the store is unusable.
            throw SQLError(
                .unavailable, code: Int32(clamping: code),
                "cannot connect to MariaDB at \(settings): \(message)\(MariaDBTLS.hint(code: code, message: message, tls: settings.tls))"
            )
        }
        if settings.tls.mode.requiresTLS, mysql_get_ssl_cipher(mysql) == nil {
            // libmariadb 3.3 falls back to plain text when the server has no TLS, unless it verifies the host name.
            mysql_close(mysql)
            throw SQLError(
                .unavailable, code: Int32(MariaDBTLS.tlsErrorCode),
                "cannot connect to MariaDB at \(settings): the server does not offer TLS, and DB_TLS=\(settings.tls.mode.rawValue) requires it"
            )
        }
        handle = mysql
        do {
            // The same strictness on MariaDB and MySQL 8 whatever the server's defaults: bad values fail
            // instead of being truncated with a warning, and no engine is silently swapped for InnoDB.
            try execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'", [])
        } catch {
            disconnect()
            throw error
        }
        logger.debug("connected to MariaDB")
    }

    /// The TLS options for `tls.mode` (see `MariaDBTLS`); `disabled` sets none, which is what keeps libmariadb in plain text.
    private func applyTLS(_ tls: MariaDBTLS, to mysql: UnsafeMutablePointer<MYSQL>) {
        guard tls.mode != .disabled else { return }
        var on: my_bool = 1
        mysql_options(mysql, MYSQL_OPT_SSL_ENFORCE, &on)  // TLS when offered; the fallback is checked after connecting
        if tls.mode.verifiesCertificate, let caFile = tls.caFile {
            mysql_options(mysql, MYSQL_OPT_SSL_CA, caFile)  // a CA makes libmariadb verify the chain
        }
        if tls.mode == .verifyIdentity {
            mysql_options(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on)  // chain and host name
        }
        if let certificateFile = tls.certificateFile, let keyFile = tls.keyFile {
            mysql_options(mysql, MYSQL_OPT_SSL_CERT, certificateFile)
            mysql_options(mysql, MYSQL_OPT_SSL_KEY, keyFile)
        }
        if tls.mode.requiresTLS {
            var tcp = UInt32(MYSQL_PROTOCOL_TCP.rawValue)  // "localhost" would otherwise mean the Unix socket
            mysql_options(mysql, MYSQL_OPT_PROTOCOL, &tcp)
        }
    }

    private func liveHandle() throws -> UnsafeMutablePointer<MYSQL> {
        guard let handle else {
            throw SQLError(.unavailable, "the connection to MariaDB at \(settings) was lost")
        }
        return handle
    }

    private func run(_ sql: String, _ binds: [SQLValue], collectingRows: Bool) throws -> MariaDBStatement.Outcome {
        let handle = try liveHandle()
        do {
            return try prepared(sql, handle: handle).run(binds, collectingRows: collectingRows)
        } catch let error as SQLError where error.code == 1295 && binds.isEmpty && !collectingRows {
            // ER_UNSUPPORTED_PS: MySQL cannot prepare a few value-free statements; run them as plain text.
            try control(sql)
            return MariaDBStatement.Outcome(changes: Int(clamping: mysql_affected_rows(handle)))
        } catch let error as SQLError {
            throw failed(error)
        }
    }

    private func prepared(_ sql: String, handle: UnsafeMutablePointer<MYSQL>) throws -> MariaDBStatement {
        if let cached = statements[sql] { return cached }
        let statement = try MariaDBStatement.prepare(sql, on: handle)
        if statements.count >= statementCacheCapacity, let evicted = statements.keys.first {
            statements[evicted] = nil
        }
        statements[sql] = statement
        return statement
    }

    /// Runs fixed, value-free SQL (transaction control) through the text protocol: MySQL 8 cannot prepare
    /// START TRANSACTION or SAVEPOINT. Never used for SQL that carries values.
    private func control(_ sql: String) throws {
        let handle = try liveHandle()
        var text = sql
        let result = text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { mysql_real_query(handle, $0.baseAddress, UInt($0.count)) }
        }
        guard result == 0 else {
            throw failed(MariaDBErrorMapping.error(code: mysql_errno(handle), message: String(cString: mysql_error(handle))))
        }
        if let result = mysql_store_result(handle) {
            mysql_free_result(result)
        }
    }

    /// Closes the handle when `error` means the connection is gone, so the next loan reconnects.
    private func failed(_ error: SQLError) -> SQLError {
        guard error.code > 0, MariaDBErrorMapping.isLostConnection(UInt32(error.code)) else { return error }
        logger.warning("lost the connection to MariaDB", metadata: ["error": "\(error)"])
        disconnect()
        return SQLError(.unavailable, code: error.code, "lost the connection to MariaDB at \(settings): \(error.message)")
    }

    /// An idle connection has nothing to read unless the server closed it (EOF, or an error packet first).
    private static func serverHasClosed(_ handle: UnsafeMutablePointer<MYSQL>) -> Bool {
        let socket = mysql_get_socket(handle)
        guard socket >= 0 else { return true }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }
}
