import Histogram
import Synchronization

/// What happened to one request.
public struct RequestSample: Sendable {
    /// When the request was due, from the start of the measured window.
    public var offset: Duration
    /// Due time to last body byte; nil when no answer came.
    public var latency: Duration?
    public var status: Int?
    /// Why no answer came (timeout, connect, closed, ...).
    public var error: String?
    /// Due time to first body byte.
    public var timeToFirstByte: Duration?
    /// Time between consecutive body chunks.
    public var chunkGaps: [Duration]
    public var chunks: Int
    /// The Retry-After header of a 429 in whole seconds; nil when absent or not a 429.
    public var retryAfter: Int?

    public init(
        offset: Duration, latency: Duration? = nil, status: Int? = nil, error: String? = nil, timeToFirstByte: Duration? = nil,
        chunkGaps: [Duration] = [], chunks: Int = 0, retryAfter: Int? = nil
    ) {
        self.offset = offset
        self.latency = latency
        self.status = status
        self.error = error
        self.timeToFirstByte = timeToFirstByte
        self.chunkGaps = chunkGaps
        self.chunks = chunks
        self.retryAfter = retryAfter
    }
}

/// Collects samples from any number of concurrent requests into HDR histograms (microseconds), status and
/// error counts, and a per-second timeline.
public final class LoadRecorder: Sendable {
    /// Up to an hour, to 3 significant digits.
    static let highestMicroseconds: UInt64 = 3_600_000_000

    private struct Second {
        var requests = 0
        var errors = 0
        var latency = Histogram<UInt64>(highestTrackableValue: LoadRecorder.highestMicroseconds, numberOfSignificantValueDigits: .two)
        var statuses: [String: Int] = [:]
        var retryAfterMin: Int?
        var retryAfterMax: Int?
    }

    private struct State {
        var latency = LoadRecorder.makeHistogram()
        var timeToFirstByte = LoadRecorder.makeHistogram()
        var chunkGaps = LoadRecorder.makeHistogram()
        var statuses: [String: Int] = [:]
        var errors: [String: Int] = [:]
        var requests = 0
        var succeeded = 0
        var dropped = 0
        var streamedResponses = 0
        var chunks = 0
        var retryAfter: RetryAfterSummary?
        var seconds: [Int: Second] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    static func makeHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(highestTrackableValue: highestMicroseconds, numberOfSignificantValueDigits: .three)
    }

    static func microseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        return Swift.min(UInt64(Swift.max(micros, 0)), highestMicroseconds)
    }

    public func record(_ sample: RequestSample) {
        let second = Int(sample.offset.components.seconds)
        let succeeded = sample.status.map { (200..<300).contains($0) } ?? false
        state.withLock { state in
            state.requests += 1
            var bucket = state.seconds[second] ?? Second()
            bucket.requests += 1
            if let latency = sample.latency {
                let micros = Self.microseconds(latency)
                _ = state.latency.record(micros)
                _ = bucket.latency.record(micros)
            }
            if let status = sample.status {
                state.statuses[String(status), default: 0] += 1
                bucket.statuses[String(status), default: 0] += 1
                if status == 429 {
                    var summary = state.retryAfter ?? RetryAfterSummary(count: 0, missing: 0)
                    summary.count += 1
                    if let seconds = sample.retryAfter {
                        summary.min = Swift.min(summary.min ?? seconds, seconds)
                        summary.max = Swift.max(summary.max ?? seconds, seconds)
                        bucket.retryAfterMin = Swift.min(bucket.retryAfterMin ?? seconds, seconds)
                        bucket.retryAfterMax = Swift.max(bucket.retryAfterMax ?? seconds, seconds)
                    } else {
                        summary.missing += 1
                    }
                    state.retryAfter = summary
                }
            }
            if let error = sample.error {
                state.errors[error, default: 0] += 1
                bucket.statuses[error, default: 0] += 1
            }
            if succeeded { state.succeeded += 1 } else { bucket.errors += 1 }
            if let ttfb = sample.timeToFirstByte {
                _ = state.timeToFirstByte.record(Self.microseconds(ttfb))
                state.streamedResponses += 1
                state.chunks += sample.chunks
            }
            for gap in sample.chunkGaps { _ = state.chunkGaps.record(Self.microseconds(gap)) }
            state.seconds[second] = bucket
        }
    }

    /// An open-loop request that was due while every connection was busy.
    public func recordDrop(at offset: Duration) {
        let second = Int(offset.components.seconds)
        state.withLock { state in
            state.requests += 1
            state.dropped += 1
            state.errors["dropped", default: 0] += 1
            var bucket = state.seconds[second] ?? Second()
            bucket.requests += 1
            bucket.errors += 1
            bucket.statuses["dropped", default: 0] += 1
            state.seconds[second] = bucket
        }
    }

    /// Running totals for a progress line.
    public func progress() -> (requests: Int, failed: Int, p50: Double, p99: Double) {
        state.withLock { state in
            let summary = LatencySummary(state.latency)
            return (state.requests, state.requests - state.succeeded, summary.p50, summary.p99)
        }
    }

    public func result(plan: LoadPlan, elapsed: Duration) -> LoadResult {
        state.withLock { state in
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let answered = state.statuses.values.reduce(0, +)
            let timeline = state.seconds.keys.sorted().map { second -> TimelinePoint in
                let bucket = state.seconds[second]!
                let summary = LatencySummary(bucket.latency)
                return TimelinePoint(second: second, requests: bucket.requests, errors: bucket.errors, p50: summary.p50, p99: summary.p99,
                                     statuses: bucket.statuses, retryAfterMin: bucket.retryAfterMin, retryAfterMax: bucket.retryAfterMax)
            }
            return LoadResult(
                plan: plan, elapsed: seconds, requests: state.requests, succeeded: state.succeeded,
                throughput: seconds > 0 ? Double(answered) / seconds : 0, latency: LatencySummary(state.latency),
                statuses: state.statuses, errors: state.errors, dropped: state.dropped,
                ttfb: state.streamedResponses > 0 ? LatencySummary(state.timeToFirstByte) : nil,
                chunkGap: state.chunkGaps.totalCount > 0 ? LatencySummary(state.chunkGaps) : nil,
                chunksPerResponse: state.streamedResponses > 0 ? Double(state.chunks) / Double(state.streamedResponses) : nil,
                retryAfter: state.retryAfter, timeline: timeline
            )
        }
    }
}
