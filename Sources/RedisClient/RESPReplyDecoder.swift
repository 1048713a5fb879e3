import NIOCore

/// Channel handler: bytes in, `RESPValue` replies out. On a protocol error it fires
/// `RedisError.protocolError` and closes the channel, since nothing after a malformed reply can be trusted.
final class RESPReplyDecoder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = RESPValue

    private let reader = RESPReplyReader()
    private var failed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { (bytes) throws(RedisError) in try reader.feed(bytes) }
            while let reply = try reader.next() {
                context.fireChannelRead(wrapInboundOut(reply))
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }
}
