import Foundation
import Logging
import Synchronization

/// The node's log output: one line per event on standard output, in swift-log's `StreamLogHandler` format
/// (`<time> <level> <label>: <metadata> [<source>] <message>`).
///
/// Unlike `StreamLogHandler`, setting metadata is a plain dictionary write: the text form is only built for a
/// line that is written. Every request sets metadata (its id) on its logger, while most requests log nothing below
/// `info`, so this keeps formatting off the proxy's hot path.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(type(of: error))"
        }
        var line = "\(Self.timestamp()) \(event.level) \(label):"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        line += " [\(event.source)] \(event.message)\n"
        // A full disk or a closed pipe loses the line; it must not stop the node.
        Self.output.withLock { _ in try? FileHandle.standardOutput.write(contentsOf: Data(line.utf8)) }
    }

    /// Lines from concurrent tasks never interleave.
    private static let output = Mutex(())

    private static func timestamp() -> String {
        var buffer = [Int8](repeating: 0, count: 64)
        var now = time(nil)
        var local = tm()
        localtime_r(&now, &local)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
