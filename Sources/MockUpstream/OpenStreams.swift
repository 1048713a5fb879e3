import HTTPTypes
import Hummingbird
import Synchronization

/// Streamed answers in progress: how many are open now, the most that were open at once, how many started.
public struct StreamCounts: Sendable, Equatable, Codable {
    public var open = 0
    public var peak = 0
    public var started = 0

    public init(open: Int = 0, peak: Int = 0, started: Int = 0) {
        self.open = open
        self.peak = peak
        self.started = started
    }

    mutating func opened() {
        open += 1
        started += 1
        peak = max(peak, open)
    }

    mutating func closed() {
        open = max(0, open - 1)
    }
}

/// `GET /__mock/streams`: the counts over every key and per key (the full key, as the counters name it).
///
/// A stream is open from the first byte of its body until the mock ends it (its final chunk is about to go) or the
/// client goes away. So a relay that starts a stream only once an earlier one has ended, as it saw it, never shows
/// two open here: the mock counts the earlier one closed before the relay can know it ended. A client that leaves
/// mid-stream is seen at the mock's next write (between chunks the mock sleeps `chunkDelay`).
public struct OpenStreams: Sendable, Equatable, Codable {
    public var overall = StreamCounts()
    public var keys: [String: StreamCounts] = [:]

    public init(overall: StreamCounts = StreamCounts(), keys: [String: StreamCounts] = [:]) {
        self.overall = overall
        self.keys = keys
    }

    public func counts(forKey key: String) -> StreamCounts {
        keys[key] ?? StreamCounts()
    }

    mutating func opened(key: String) {
        overall.opened()
        keys[key, default: StreamCounts()].opened()
    }

    mutating func closed(key: String) {
        overall.closed()
        keys[key]?.closed()
    }
}

/// One streamed answer's place in `OpenStreams`, given back exactly once. `epoch` is the state's reset count when it
/// opened: a stream that outlives a `reset()` does not count down what the reset already cleared.
final class OpenStream: Sendable {
    let key: String
    let epoch: Int
    private let ended = Atomic<Bool>(false)

    init(key: String, epoch: Int) {
        self.key = key
        self.epoch = epoch
    }

    /// True the first time only.
    func end() -> Bool {
        !ended.exchange(true, ordering: .relaxed)
    }
}

extension MockUpstreamState {
    /// `body` counted as an open stream of `key` while it is written (see `OpenStreams`).
    func counted(_ body: ResponseBody, key: String) -> ResponseBody {
        ResponseBody { writer in
            let stream = self.openStream(key: key)
            do {
                try await body.write(StreamClosingWriter(parent: writer) { self.closeStream(stream) })
            } catch {
                self.closeStream(stream)
                throw error
            }
            self.closeStream(stream)
        }
    }
}

/// Passes everything on; closes the stream's count just before the end goes out.
private struct StreamClosingWriter: ResponseBodyWriter {
    var parent: any ResponseBodyWriter
    let close: @Sendable () -> Void

    mutating func write(_ buffer: ByteBuffer) async throws {
        try await parent.write(buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        close()
        try await parent.finish(trailingHeaders)
    }
}
