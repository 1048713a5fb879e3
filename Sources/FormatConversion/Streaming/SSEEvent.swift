/// One server-sent event: its `event:` name (nil for the default `message`) and its `data:` lines joined by `\n`.
public struct SSEEvent: Sendable, Equatable {
    public var name: String?
    public var data: String

    public init(name: String? = nil, data: String) {
        self.name = name
        self.data = data
    }

    /// The wire form, LF-framed.
    public func write(into out: inout [UInt8]) {
        if let name {
            out.append(contentsOf: "event: ".utf8)
            out.append(contentsOf: name.utf8)
            out.append(0x0A)
        }
        out.append(contentsOf: "data: ".utf8)
        out.append(contentsOf: data.utf8)
        out.append(contentsOf: [0x0A, 0x0A])
    }

    /// Writes `event:`/`data:` for a JSON payload without building an intermediate string.
    static func write(name: String?, json: JSONValue, into out: inout [UInt8]) {
        if let name {
            out.append(contentsOf: "event: ".utf8)
            out.append(contentsOf: name.utf8)
            out.append(0x0A)
        }
        out.append(contentsOf: "data: ".utf8)
        JSONWriter.write(json, into: &out)
        out.append(contentsOf: [0x0A, 0x0A])
    }
}
