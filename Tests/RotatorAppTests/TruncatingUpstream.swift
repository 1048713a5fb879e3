import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A loopback upstream that declares a 100-byte JSON answer, sends 12 bytes of it and closes the connection: the
/// misbehaviour the mock never shows.
struct TruncatingUpstream {
    static let declaredLength = 100
    private static let sentPart = #"{"id":"trunc"#

    let channel: any Channel
    private let answered: AnswerCount

    /// How many requests it has answered (each with a broken answer).
    var requests: Int { answered.value.withLock { $0 } }

    var baseURL: String { "http://127.0.0.1:\(channel.localAddress?.port ?? 0)" }

    static func start() async throws -> TruncatingUpstream {
        let answered = AnswerCount()
        let channel = try await ServerBootstrap(group: NIOSingletons.posixEventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(AnswerHandler(answered: answered))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TruncatingUpstream(channel: channel, answered: answered)
    }

    func stop() async {
        try? await channel.close()
    }

    private final class AnswerCount: Sendable {
        let value = Mutex(0)
    }

    private final class AnswerHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let answered: AnswerCount

        init(answered: AnswerCount) {
            self.answered = answered
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            answered.value.withLock { $0 += 1 }
            let headers = HTTPHeaders([("content-type", "application/json"), ("content-length", String(TruncatingUpstream.declaredLength))])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: TruncatingUpstream.sentPart)))), promise: nil)
            context.close(promise: nil)
        }
    }
}
