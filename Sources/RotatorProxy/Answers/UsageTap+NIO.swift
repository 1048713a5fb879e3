import NIOCore
import RotatorCore

/// The tap's side that knows the relay's types (kept apart so `scripts/bench-usage-tap.sh` compiles the tap alone).
extension UsageTap {
    /// Reads one part of the answer (a whole body, or a stream's next bytes).
    mutating func feed(_ part: ByteBuffer) {
        part.withUnsafeReadableBytes { feed($0) }
    }
}

extension UsageTap.Dialect {
    init(_ format: APIFormat) {
        switch format {
        case .openAICompatible: self = .openAI
        case .anthropicNative: self = .anthropic
        case .geminiNative: self = .gemini
        }
    }
}
