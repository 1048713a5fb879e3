import Hummingbird

/// A streamed body written one unit at a time. Each `write` goes straight to the channel (Hummingbird
/// flushes every body write), so a client sees each unit as its own read, `delay` apart.
enum EventStream {
    static func body(units: [String], delay: Duration) -> ResponseBody {
        body(bytes: units.map { Array($0.utf8) }, delay: delay)
    }

    static func body(bytes units: [[UInt8]], delay: Duration) -> ResponseBody {
        ResponseBody { writer in
            for (index, unit) in units.enumerated() {
                if index > 0, delay > .zero {
                    try await Task.sleep(for: delay)
                }
                try await writer.write(ByteBuffer(bytes: unit))
            }
            try await writer.finish(nil)
        }
    }
}
