import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A loopback upstream for the relay's flow-control tests, answering by the last path segments whatever the prefix:
/// - `…/bytes/<n>`: a 200 of exactly n bytes (`Content-Length`), written as fast as the socket takes them in 64 KiB
///   pieces, each its own write and flush; piece k starts with k (8 bytes, big-endian), so a lost or repeated piece
///   changes the checksum;
/// - `…/broken-chunked`: a chunked 200 head followed, in the same write, by chunk framing that is not hexadecimal;
/// - `…/silent`: reads the request and never answers.
/// It writes raw bytes (no HTTP encoder), so it can send what a well-behaved server never would.
struct RelayTestUpstream {
    static let pieceSize = 64 * 1024

    let channel: any Channel
    private let counts: RequestCounts

    var baseURL: String { "http://127.0.0.1:\(channel.localAddress?.port ?? 0)" }

    /// Requests received so far whose path ends in this route (`bytes`, `broken-chunked`, `silent`).
    func requests(_ route: String) -> Int { counts.value.withLock { $0[route, default: 0] } }

    static func start() async throws -> RelayTestUpstream {
        let counts = RequestCounts()
        let channel = try await ServerBootstrap(group: NIOSingletons.posixEventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
                    try channel.pipeline.syncOperations.addHandler(AnswerHandler(counts: counts))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return RelayTestUpstream(channel: channel, counts: counts)
    }

    func stop() async {
        try? await channel.close()
    }

    /// Piece `index` of a `…/bytes/<n>` answer, `length` bytes long (the last piece may be shorter).
    static func piece(_ index: Int, length: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(length)
        var header = ByteBuffer()
        header.writeInteger(UInt64(index))
        buffer.writeImmutableBuffer(header.getSlice(at: 0, length: min(8, length))!)
        if length > 8 { buffer.writeBytes(filler.prefix(length - 8)) }
        return buffer
    }

    /// The bytes after each piece's index: varied, so that shifted data does not compare equal.
    private static let filler: [UInt8] = {
        var state: UInt32 = 2_463_534_242
        return (0..<(pieceSize - 8)).map { _ in
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return UInt8(truncatingIfNeeded: state)
        }
    }()

    private final class RequestCounts: Sendable {
        let value = Mutex<[String: Int]>([:])
    }

    private final class AnswerHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = ByteBuffer

        private let counts: RequestCounts
        private var path = ""
        /// The `…/bytes/<n>` answer being written: the next piece and the bytes still to write.
        private var nextPiece = 0
        private var remaining = 0

        init(counts: RequestCounts) {
            self.counts = counts
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = String(head.uri.split(separator: "?").first ?? "")
            case .body:
                break
            case .end:
                answer(context: context)
            }
        }

        private func answer(context: ChannelHandlerContext) {
            let segments = path.split(separator: "/")
            if segments.count >= 2, segments[segments.count - 2] == "bytes", let length = Int(segments[segments.count - 1]) {
                count("bytes")
                context.write(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: \(length)\r\n\r\n")),
                              promise: nil)
                nextPiece = 0
                remaining = length
                writePieces(context: context)
            } else if path.hasSuffix("/broken-chunked") {
                count("broken-chunked")
                let text = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz-not-a-size\r\n{\"id\":1}\r\n"
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
            } else if path.hasSuffix("/silent") {
                count("silent")
            } else {
                count("other")
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")), promise: nil)
            }
        }

        private func writePieces(context: ChannelHandlerContext) {
            while remaining > 0, context.channel.isWritable {
                let piece = RelayTestUpstream.piece(nextPiece, length: min(RelayTestUpstream.pieceSize, remaining))
                nextPiece += 1
                remaining -= piece.readableBytes
                context.writeAndFlush(wrapOutboundOut(piece), promise: nil)
            }
            if remaining == 0 { context.flush() }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable, remaining > 0 { writePieces(context: context) }
            context.fireChannelWritabilityChanged()
        }

        private func count(_ route: String) {
            counts.value.withLock { $0[route, default: 0] += 1 }
        }
    }
}
