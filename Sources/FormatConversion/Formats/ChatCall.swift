/// What the client's path says about a chat call.
public struct ChatCall: Sendable, Equatable {
    /// The model named in the path (Gemini), overriding the body.
    public var pathModel: String?
    /// Streaming as the path says (Gemini's `:streamGenerateContent`); nil lets the body's `stream` decide.
    public var pathStreams: Bool?
    /// Gemini `?alt=sse`.
    public var serverSentEvents: Bool

    public init(pathModel: String? = nil, pathStreams: Bool? = nil, serverSentEvents: Bool = true) {
        self.pathModel = pathModel
        self.pathStreams = pathStreams
        self.serverSentEvents = serverSentEvents
    }
}
