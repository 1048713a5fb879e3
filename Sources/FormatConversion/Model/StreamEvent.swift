/// One step of a streamed answer in no provider's shape. Upstream stream decoders produce these; client
/// stream encoders turn them into their own events. Tool calls are numbered from 0 in order of appearance.
public enum StreamEvent: Sendable, Equatable {
    /// The answer begins (first event of every stream).
    case start(id: String, model: String)
    case textDelta(String)
    case toolCallStart(index: Int, id: String, name: String)
    case toolCallArgumentsDelta(index: Int, fragment: String)
    case finish(FinishReason)
    /// Usage so far; later values replace earlier ones field by field (a zero means "not reported").
    case usage(TokenUsage)
    /// The upstream broke off with an error inside the stream.
    case error(UpstreamError)
}
