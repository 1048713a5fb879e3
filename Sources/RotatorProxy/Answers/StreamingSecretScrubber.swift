import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import Synchronization

/// The scrubber over a body that arrives in parts: each part goes out at once, except its last bytes when they may be
/// the start of an occurrence the next part completes (at most `longestOccurrence - 1` bytes are held back, and only
/// then). Bytes out equal bytes in, so a declared `Content-Length` stays true.
public struct StreamingSecretScrubber: Sendable {
    public let scrubber: SecretScrubber
    /// Bytes held back from the last part.
    private var carry: [UInt8] = []

    public init(_ scrubber: SecretScrubber) {
        self.scrubber = scrubber
    }

    /// How many bytes are held back now.
    public var heldBack: Int { carry.count }

    /// One part in; the bytes that can go to the client now out.
    public mutating func feed(_ part: ByteBuffer) -> ByteBuffer {
        if carry.isEmpty {
            let cut = part.withUnsafeReadableBytes { raw in pass(raw.bindMemory(to: UInt8.self)) }
            switch cut {
            case .whole:
                return part
            case .upTo(let end):
                carry = Array(part.readableBytesView.dropFirst(end))
                return part.getSlice(at: part.readerIndex, length: end) ?? ByteBuffer()
            case .redacted:
                break
            }
        }
        var bytes = carry
        bytes.append(contentsOf: part.readableBytesView)
        carry = []
        return process(&bytes, final: false)
    }

    /// The end of the body: whatever was held back, scrubbed.
    public mutating func finish() -> ByteBuffer {
        guard !carry.isEmpty else { return ByteBuffer() }
        var bytes = carry
        carry = []
        return process(&bytes, final: true)
    }

    private enum Pass {
        /// No occurrence and nothing to hold back.
        case whole
        /// No occurrence; hold back from `end`.
        case upTo(Int)
        /// An occurrence: the bytes must be copied and changed.
        case redacted
    }

    private func pass(_ bytes: UnsafeBufferPointer<UInt8>) -> Pass {
        switch scrubber.find(in: bytes, from: 0, final: false) {
        case .none: .whole
        case .incomplete(let start): .upTo(start)
        case .occurrence: .redacted
        }
    }

    private mutating func process(_ bytes: inout [UInt8], final: Bool) -> ByteBuffer {
        var keep = bytes.count
        bytes.withUnsafeMutableBufferPointer { buffer in
            var from = 0
            while true {
                switch scrubber.find(in: UnsafeBufferPointer(buffer), from: from, final: final) {
                case .occurrence(let range):
                    SecretScrubber.fillReplacement(buffer, range)
                    from = range.upperBound
                    continue
                case .incomplete(let start):
                    keep = start
                case .none:
                    break
                }
                break
            }
        }
        if keep < bytes.count { carry = Array(bytes[keep...]) }
        return ByteBuffer(bytes: bytes[..<keep])
    }
}
