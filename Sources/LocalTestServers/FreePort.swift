import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks the kernel for a free TCP port on 127.0.0.1.
///
/// The port is free when `find()` returns; another process may take it before the caller binds it, which is
/// acceptable for tests (a server that fails to bind reports it in its log and the launcher's error).
public enum FreePort {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Ports handed out, so two servers of one test process never get the same one.
    private static let handedOut = Mutex<Set<Int>>([])

    /// A free port below the kernel's ephemeral range (32768–60999 on Linux): a server there can never clash
    /// with the source port of an outgoing connection, nor can a client connecting before the server listens
    /// end up connected to itself.
    public static func find() throws -> Int {
        for _ in 0..<200 {
            let candidate = Int.random(in: 20_000..<32_000)
            let fresh = handedOut.withLock { $0.insert(candidate).inserted }
            if fresh, isFree(candidate) { return candidate }
        }
        throw Failure(description: "no free port found in 20000-31999")
    }

    private static func isFree(_ port: Int) -> Bool {
        withLoopbackSocket(port: port) { fd, address in bind(fd, address, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }

    /// True when something accepts TCP connections on 127.0.0.1:`port` (a server has started listening).
    public static func isListening(_ port: Int) -> Bool {
        withLoopbackSocket(port: port) { fd, address in connect(fd, address, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }

    /// Runs `body` with a fresh TCP socket and the address 127.0.0.1:`port`, then closes the socket; `failure`
    /// when no socket could be made.
    static func withLoopbackSocket<Result>(
        port: Int, failure: Result = false, _ body: (Int32, UnsafePointer<sockaddr>) -> Result
    ) -> Result {
        #if canImport(Glibc) || canImport(Musl)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return failure }
        defer { close(fd) }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0) }
        }
    }
}
