/// An incremental `text/event-stream` parser (WHATWG rules: LF, CRLF or CR line ends; `data:` lines joined;
/// `:` comments and `id:`/`retry:` ignored). Takes bytes split anywhere and returns each event as soon as its
/// blank line arrives. Holds at most `limit` bytes of one unfinished event: past that it fails rather than grow.
public struct SSEParser: Sendable {
    public struct Overflow: Error, Sendable, Equatable, CustomStringConvertible {
        public var limit: Int
        public init(limit: Int) { self.limit = limit }
        public var description: String { "a server-sent event exceeded \(limit) bytes" }
    }

    public static let defaultLimit = 4 * 1024 * 1024

    public let limit: Int
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var name: String?
    /// The previous chunk ended in CR: an LF starting this one belongs to that line end.
    private var skipLeadingLF = false

    public init(limit: Int = SSEParser.defaultLimit) {
        self.limit = limit
    }

    public mutating func feed(_ bytes: some Collection<UInt8>) throws(Overflow) -> [SSEEvent] {
        // One copy into an array, then a loop the compiler specializes: iterating the generic collection itself
        // (a `ByteBufferView` from the proxy, whose module cannot specialize this) costs a witness call per byte.
        let bytes = Array(bytes)
        var events: [SSEEvent] = []
        for byte in bytes {
            if skipLeadingLF {
                skipLeadingLF = false
                if byte == 0x0A { continue }
            }
            switch byte {
            case 0x0A:
                if let event = endLine() { events.append(event) }
            case 0x0D:
                if let event = endLine() { events.append(event) }
                skipLeadingLF = true
            default:
                guard line.count + data.count < limit else { throw Overflow(limit: limit) }
                line.append(byte)
            }
        }
        return events
    }

    /// The stream ended: an event whose blank line never came is still delivered.
    public mutating func finish() -> SSEEvent? {
        if !line.isEmpty { _ = endLine() }
        return dispatch()
    }

    private mutating func endLine() -> SSEEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty { return dispatch() }
        if line[0] == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.count
        var valueStart = colon < line.count ? colon + 1 : colon
        if valueStart < line.count, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let field = line[0..<colon]
        let value = line[valueStart...]
        if field.elementsEqual("data".utf8) {
            if hasData { data.append(0x0A) }
            data.append(contentsOf: value)
            hasData = true
        } else if field.elementsEqual("event".utf8) {
            name = String(decoding: value, as: UTF8.self)
        }
        return nil
    }

    private mutating func dispatch() -> SSEEvent? {
        defer {
            data.removeAll(keepingCapacity: true)
            hasData = false
            name = nil
        }
        guard hasData else { return nil }
        return SSEEvent(name: name, data: String(decoding: data, as: UTF8.self))
    }
}
