import Dispatch
import Foundation
import Logging
import Synchronization

/// Writes the proxy's access lines on a thread of its own, so formatting and the write to stdout never run on an
/// event loop. Lines queue in memory (bounded); lines dropped because the writer fell behind are counted and said
/// in the log, never lost silently.
public final class AccessLogWriter: Sendable {
    /// One finished request: method, path (never the query, which can hold a key), slug, statuses, key id (never the
    /// key), retries, duration.
    public struct Line: Sendable {
        public var method: String
        public var path: String
        public var status: Int
        public var durationMilliseconds: Double
        public var requestID: String
        public var slug: String?
        public var upstreamStatus: Int?
        public var keyID: Int64?
        public var retries: Int
        public var completed: Bool
    }

    private struct Queue {
        var lines: [Line] = []
        var dropped = 0
        var stopped = false
    }

    private let logger: Logger
    private let queue = Mutex(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let capacity: Int
    /// Whether lines are written at all (the logger's level); checked before a line is built.
    public let isEnabled: Bool

    public init(logger: Logger, capacity: Int = 100_000) {
        self.logger = logger
        self.capacity = capacity
        self.isEnabled = logger.logLevel <= .info
        guard isEnabled else { return }
        let thread = Thread { [self] in self.drainForever() }
        thread.name = "access-log"
        thread.start()
    }

    public func append(_ line: Line) {
        guard isEnabled else { return }
        let wasEmpty = queue.withLock { queue -> Bool in
            guard queue.lines.count < capacity else {
                queue.dropped += 1
                return false
            }
            queue.lines.append(line)
            return queue.lines.count == 1
        }
        if wasEmpty { wake.signal() }
    }

    /// Writes what is queued and stops the thread.
    public func shutdown() {
        guard isEnabled else { return }
        queue.withLock { $0.stopped = true }
        wake.signal()
    }

    private func drainForever() {
        while true {
            wake.wait()
            let (lines, dropped, stopped) = queue.withLock { queue -> ([Line], Int, Bool) in
                defer {
                    queue.lines.removeAll(keepingCapacity: true)
                    queue.dropped = 0
                }
                return (queue.lines, queue.dropped, queue.stopped)
            }
            for line in lines { write(line) }
            if dropped > 0 {
                logger.warning("access log fell behind: lines dropped", metadata: ["dropped": .stringConvertible(dropped)])
            }
            if stopped { return }
        }
    }

    private func write(_ line: Line) {
        var metadata: Logger.Metadata = [
            "method": .string(line.method),
            "path": .string(line.path),
            "status": .stringConvertible(line.status),
            "duration_ms": .string(String(format: "%.2f", line.durationMilliseconds)),
            "request_id": .string(line.requestID),
        ]
        if let slug = line.slug { metadata["slug"] = .string(slug) }
        if let upstream = line.upstreamStatus { metadata["upstream_status"] = .stringConvertible(upstream) }
        if let key = line.keyID { metadata["key_id"] = .stringConvertible(key) }
        if line.retries > 0 || line.slug != nil { metadata["retries"] = .stringConvertible(line.retries) }
        if !line.completed { metadata["body"] = "aborted" }
        logger.info("access", metadata: metadata)
    }
}
