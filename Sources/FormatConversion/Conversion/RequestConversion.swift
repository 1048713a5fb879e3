/// A client's chat request body -> the upstream's path and body.
public struct RequestConversion: Sendable {
    public let pair: FormatPair
    public let models: ModelMapping

    public enum Outcome: Sendable, Equatable {
        /// Send `upstream` to the upstream.
        case forward(ConvertedRequest)
        /// Answer the client with this (a 400 in its error shape), without calling the upstream.
        case reject(ClientAnswer)
    }

    public init(pair: FormatPair, models: ModelMapping = .identity) {
        self.pair = pair
        self.models = models
    }

    /// The converted request, or the 400 the client gets (in its own error shape) for a body that cannot be read.
    public func convert(_ body: some Collection<UInt8>, call: ChatCall, created: Int) -> RequestConversion.Outcome {
        do throws(ConversionFailure) {
            let object = try JSONValue.requestObject(body)
            var dropped = DroppedFeatures()
            var request = try pair.clientFormat.decodeRequest(object, call: call, dropped: &dropped)
            let clientModel = request.model
            request.model = models.upstreamModel(for: clientModel)
            let upstream = try pair.upstreamFormat.encodeRequest(request, dropped: &dropped)
            let options = ClientStreamOptions(
                includeUsage: pair.client == .openAI && OpenAIChatFormat.includesUsage(object),
                serverSentEvents: call.serverSentEvents, created: created)
            return .forward(ConvertedRequest(upstream: upstream, clientModel: clientModel, streamOptions: options, dropped: dropped))
        } catch {
            let answer = UpstreamError(status: error.status, kind: .invalidRequest, message: error.message)
            return .reject(ClientAnswer(status: error.status, body: pair.clientErrorBody(answer)))
        }
    }
}

/// A request ready for the upstream, plus what its answer's conversion needs.
public struct ConvertedRequest: Sendable, Equatable {
    public var upstream: UpstreamRequest
    /// The model the client asked for (before the config's map).
    public var clientModel: String?
    /// Hand to `StreamConversion` when `upstream.streams`.
    public var streamOptions: ClientStreamOptions
    public var dropped: DroppedFeatures
}

