// A bare SwiftNIO relay with no rotator logic, the Swift baseline of the load test's overhead scenario: HTTP/1.1 in,
// the Authorization header swapped, the request sent on a keep-alive upstream connection from a small idle pool on
// the same event loop, the answer relayed part by part. What this reaches is what any Swift proxy can reach here.
import NIOCore
import NIOHTTP1
import NIOPosix

struct Options {
    var host = "127.0.0.1"
    var port = 8300
    var upstreamHost = "127.0.0.1"
    var upstreamPort = 9000
    var loops = System.coreCount

    init(_ arguments: [String]) {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--host": host = value
            case "--port": port = Int(value) ?? port
            case "--upstream":
                let parts = value.split(separator: ":")
                upstreamHost = String(parts[0])
                upstreamPort = parts.count > 1 ? Int(parts[1]) ?? upstreamPort : upstreamPort
            case "--loops": loops = Int(value) ?? loops
            default: fatalError("usage: bare-relay [--host H] [--port P] [--upstream HOST:PORT] [--loops N]")
            }
        }
    }
}

/// Idle upstream connections of one loop.
final class IdleUpstreams {
    var channels: [Channel] = []
}

/// The upstream side: forwards each answer part to the client channel that asked.
final class UpstreamRelay: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    var client: Channel?
    var onEnd: (() -> Void)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard let client else { return }
        switch part {
        case .head(let head):
            client.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: head.headers)), promise: nil)
        case .body(let body):
            client.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil)
        case .end:
            client.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
            self.client = nil
            let done = onEnd
            onEnd = nil
            done?()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        client?.flush()
    }
}

/// The client side: one request at a time per connection.
final class ClientRelay: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    let options: Options
    let idle: IdleUpstreams
    var head: HTTPRequestHead?
    var body: ByteBuffer?

    init(options: Options, idle: IdleUpstreams) {
        self.options = options
        self.idle = idle
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body(var chunk):
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard var head else { return }
            head.headers.replaceOrAdd(name: "Authorization", value: "Bearer sk-bare-relay-upstream-key")
            head.headers.replaceOrAdd(name: "Host", value: "\(options.upstreamHost):\(options.upstreamPort)")
            let body = self.body
            self.head = nil
            self.body = nil
            send(head: head, body: body, client: context.channel)
        }
    }

    private func send(head: HTTPRequestHead, body: ByteBuffer?, client: Channel) {
        let write: (Channel) -> Void = { upstream in
            let relay = try! upstream.pipeline.syncOperations.handler(type: UpstreamRelay.self)
            relay.client = client
            let idle = self.idle
            relay.onEnd = { idle.channels.append(upstream) }
            upstream.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: head.headers)),
                           promise: nil)
            if let body { upstream.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
            upstream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        while let upstream = idle.channels.popLast() {
            if upstream.isActive { return write(upstream) }
        }
        ClientBootstrap(group: client.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamRelay())
                }
            }
            .connect(host: options.upstreamHost, port: options.upstreamPort)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let upstream): write(upstream)
                case .failure: client.close(promise: nil)
                }
            }
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let group = MultiThreadedEventLoopGroup(numberOfThreads: options.loops)
var idleByLoop: [ObjectIdentifier: IdleUpstreams] = [:]
for loop in group.makeIterator() { idleByLoop[ObjectIdentifier(loop)] = IdleUpstreams() }
nonisolated(unsafe) let idleUpstreams = idleByLoop  // each entry is only touched on its own loop
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
            try channel.pipeline.syncOperations.addHandler(ClientRelay(options: options, idle: idleUpstreams[ObjectIdentifier(channel.eventLoop)]!))
        }
    }
    .bind(host: options.host, port: options.port)
    .wait()
print("bare-relay listening on \(options.host):\(options.port), upstream \(options.upstreamHost):\(options.upstreamPort), \(options.loops) loops")
try server.closeFuture.wait()
