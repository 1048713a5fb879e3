import Foundation
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// TLS to Redis (`rediss://`, `REDIS_TLS=true`): full certificate and host-name verification, SNI for host names,
/// an optional private CA and an optional client certificate.
///
/// With `caFile` only that CA is trusted (as `redis-cli --cacert` does); without it, the system's trust roots.
/// Files are read on every (re)connect, so a rotated certificate is picked up without a restart.
public struct RedisTLS: Sendable, Equatable {
    /// PEM file of the CA(s) that signed the server's certificate (`REDIS_CA_FILE`).
    public var caFile: String?
    /// PEM client certificate (chain) and its key, for servers that ask for one (`REDIS_CERT_FILE`, `REDIS_KEY_FILE`).
    public var certificateFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Loads the files into a context; a file that cannot be read or parsed throws `RedisTLSError.badFile`.
    public func makeContext() throws(RedisTLSError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        do {
            if let caFile {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            }
        } catch {
            throw .badFile("cannot read the CA certificates in \(caFile ?? ""): \(error)")
        }
        if let certificateFile, let keyFile {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw .badFile("cannot read the client certificate \(certificateFile) or its key \(keyFile): \(error)")
            }
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw .badFile("cannot build the TLS context: \(error)")
        }
    }

    /// IP literals get no SNI (TLS allows host names only); the certificate is then checked against the address.
    static func serverName(for host: String) -> String? {
        let isIPAddress = host.utf8.contains(UInt8(ascii: ":"))
            || host.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }
        return isIPAddress ? nil : host
    }
}

/// Why a TLS connection to Redis could not be set up. Never carries a password.
public enum RedisTLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A CA, certificate or key file cannot be read or parsed.
    case badFile(String)
    /// The server's certificate is not signed by a trusted CA (or is expired).
    case untrustedCertificate(String)
    /// The certificate is valid but names another host.
    case hostNameMismatch(String)
    /// Any other handshake failure: the server does not speak TLS on that port, refused our client certificate...
    case handshakeFailed(String)

    public var description: String {
        switch self {
        case .badFile(let reason): "Redis TLS: \(reason)"
        case .untrustedCertificate(let reason): "Redis TLS: the server's certificate is not trusted (\(reason))"
        case .hostNameMismatch(let host): "Redis TLS: the server's certificate does not match the host name '\(host)'"
        case .handshakeFailed(let reason): "Redis TLS: handshake failed (\(reason))"
        }
    }

    /// Sorts what BoringSSL and NIOSSL report into the cases above.
    static func classify(_ error: any Error, host: String) -> RedisTLSError {
        if let tls = error as? RedisTLSError { return tls }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname { return .hostNameMismatch(host) }
        let text = String(describing: error)
        if text.localizedCaseInsensitiveContains("hostname") || text.contains("HOSTNAME_MISMATCH") { return .hostNameMismatch(host) }
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.localizedCaseInsensitiveContains("certificate verify failed") {
            return .untrustedCertificate("certificate verify failed")
        }
        if let redis = error as? RedisError, redis == .connectionClosed {
            return .handshakeFailed("the server closed the connection during the handshake")
        }
        return .handshakeFailed(text.count > 160 ? String(text.prefix(160)) : text)
    }
}

/// What became of one connection's TLS: the handshake's result, and a TLS error that came after it (with TLS 1.3 a
/// server that wants a client certificate says so only after the client finished its side, and the first commands
/// then fail with a closed connection). Made before the channel, so no pipeline look-up can miss it.
final class TLSOutcome: Sendable {
    let handshake: EventLoopPromise<Void>
    private let laterError = Mutex<String?>(nil)

    init(eventLoop: any EventLoop) {
        handshake = eventLoop.makePromise()
    }

    var errorAfterHandshake: String? { laterError.withLock { $0 } }

    func recordErrorAfterHandshake(_ error: any Error) {
        laterError.withLock { $0 = $0 ?? String(describing: error) }
    }

    /// Why the connection closed before answering its first commands: the TLS error seen after the handshake, or,
    /// when none was, the usual reason (Redis itself answers refusals with an error reply, not with a close).
    func failureBeforeFirstReply(_ error: any Error) -> RedisTLSError? {
        if let text = errorAfterHandshake { return .handshakeFailed(text.count > 160 ? String(text.prefix(160)) : text) }
        guard let redis = error as? RedisError, redis == .connectionClosed else { return nil }
        return .handshakeFailed(
            "the server closed the connection right after the TLS handshake, as one that requires a client certificate does when it gets none or a wrong one"
        )
    }
}

/// Between the TLS handler and the RESP decoder: completes the outcome's handshake when the TLS handshake is done,
/// or fails it with the handshake's error (or the connection's close).
final class TLSHandshakeObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let outcome: TLSOutcome
    private var handshakeDone = false

    init(outcome: TLSOutcome) {
        self.outcome = outcome
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            handshakeDone = true
            outcome.handshake.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if handshakeDone { outcome.recordErrorAfterHandshake(error) }
        outcome.handshake.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        outcome.handshake.fail(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        outcome.handshake.fail(RedisError.connectionClosed)
    }
}
