import Foundation

/// The live line a run prints about once a second.
public enum ProgressLine {
    /// On a terminal the line is redrawn in place every second; in a log (CI) a line every 10 s instead.
    public static func show(_ line: String, elapsed: Duration) {
        if isTerminal {
            write("\r" + line)
        } else if elapsed.components.seconds % 10 == 0 {
            write(line + "\n")
        }
    }

    /// Removes the live line before a summary is printed.
    public static func clear() {
        if isTerminal { write("\r\u{1B}[K") }
    }

    private static let isTerminal = isatty(2) == 1

    private static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    public static func render(plan: LoadPlan, elapsed: Duration, recorder: LoadRecorder) -> String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let now = recorder.progress()
        let rate = seconds > 0 ? Double(now.requests) / seconds : 0
        return "[\(plan.label)] \(format(seconds, 1))/\(format(plan.duration, 0)) s  \(now.requests) req  \(format(rate, 0)) req/s"
            + "  p50 \(format(now.p50, 2)) ms  p99 \(format(now.p99, 2)) ms  not 2xx \(now.failed)   "
    }

    static func format(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        if decimals == 0 { return String(Int(rounded)) }
        let text = String(rounded)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        return "\(parts[0]).\(fraction.padding(toLength: decimals, withPad: "0", startingAt: 0))"
    }
}

/// A human summary of one result, a few lines.
public enum ResultSummary {
    public static func text(_ result: LoadResult) -> String {
        let f = ProgressLine.format
        var lines = [
            "\(result.plan.label): \(result.requests) requests in \(f(result.elapsed, 2)) s, \(f(result.throughput, 0)) req/s, "
                + "\(result.succeeded) 2xx",
            "  latency ms  p50 \(f(result.latency.p50, 3))  p90 \(f(result.latency.p90, 3))  p99 \(f(result.latency.p99, 3))  "
                + "p99.9 \(f(result.latency.p999, 3))  max \(f(result.latency.max, 3))",
            "  statuses \(result.statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))",
        ]
        if !result.errors.isEmpty {
            lines.append("  errors \(result.errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))")
        }
        if let ttfb = result.ttfb {
            lines.append("  ttfb ms  p50 \(f(ttfb.p50, 3))  p99 \(f(ttfb.p99, 3));  chunks/answer \(f(result.chunksPerResponse ?? 0, 1))")
        }
        if let gap = result.chunkGap {
            lines.append("  chunk gap ms  p50 \(f(gap.p50, 3))  p99 \(f(gap.p99, 3))  max \(f(gap.max, 3))")
        }
        return lines.joined(separator: "\n")
    }
}
