import NIOCore
import NIOHTTP1

/// Parts of requests that arrived while the one before was still being answered, with their count and body bytes.
struct PipelineQueue {
    private var parts = CircularBuffer<HTTPServerRequestPart>()
    private(set) var requests = 0
    private(set) var bodyBytes = 0

    var isEmpty: Bool { parts.isEmpty }

    var isFull: Bool {
        requests >= ClientConnectionStateMachine.queueBound.requests || bodyBytes >= ClientConnectionStateMachine.queueBound.bodyBytes
    }

    mutating func append(_ part: HTTPServerRequestPart) {
        parts.append(part)
        switch part {
        case .head: requests += 1
        case .body(let chunk): bodyBytes += chunk.readableBytes
        case .end: break
        }
    }

    mutating func popFirst() -> HTTPServerRequestPart? {
        guard let part = parts.popFirst() else { return nil }
        switch part {
        case .head: requests -= 1
        case .body(let chunk): bodyBytes -= chunk.readableBytes
        case .end: break
        }
        return part
    }

    mutating func removeAll() {
        parts.removeAll()
        requests = 0
        bodyBytes = 0
    }
}
