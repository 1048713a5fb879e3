import Foundation

/// An upstream's non-streamed answer (or error) -> the client's.
public struct ResponseConversion: Sendable {
    public let pair: FormatPair

    public init(pair: FormatPair) { self.pair = pair }

    /// `retryAfter` is the upstream's `Retry-After` header, if any; `created` stamps answers whose upstream gave no time.
    public func convert(status: Int, body: some Collection<UInt8>, retryAfter: String? = nil, created: Int) -> ClientAnswer {
        let parsed = try? JSONParser.parse(body)
        guard (200..<300).contains(status) else { return error(status: status, body: parsed, retryAfter: retryAfter) }
        var dropped = DroppedFeatures()
        do throws(ConversionFailure) {
            guard let parsed else { throw ConversionFailure(status: 502, "The upstream's answer is not JSON.") }
            let response = try pair.upstreamFormat.decodeResponse(parsed, dropped: &dropped)
            let encoded = pair.clientFormat.encodeResponse(response, context: ResponseContext(created: created), dropped: &dropped)
            return ClientAnswer(status: status, body: JSONWriter.bytes(encoded), usage: response.usage, dropped: dropped)
        } catch {
            let answer = UpstreamError(status: error.status, kind: .server, message: error.message)
            return ClientAnswer(status: error.status, body: pair.clientErrorBody(answer), dropped: dropped)
        }
    }

    /// An upstream model list -> the client's, with the config's mapped names added so clients can pick them.
    public func convertModels(status: Int, body: some Collection<UInt8>, retryAfter: String? = nil, models mapping: ModelMapping = .identity) -> ClientAnswer {
        let parsed = try? JSONParser.parse(body)
        guard (200..<300).contains(status) else { return error(status: status, body: parsed, retryAfter: retryAfter) }
        do throws(ConversionFailure) {
            guard let parsed else { throw ConversionFailure(status: 502, "The upstream's model list is not JSON.") }
            var models = try pair.upstreamFormat.decodeModels(parsed)
            for alias in mapping.map.keys.sorted() where !models.contains(where: { $0.id == alias }) {
                models.append(ModelInfo(id: alias))
            }
            return ClientAnswer(status: status, body: JSONWriter.bytes(pair.clientFormat.encodeModels(models)))
        } catch {
            let answer = UpstreamError(status: error.status, kind: .server, message: error.message)
            return ClientAnswer(status: error.status, body: pair.clientErrorBody(answer))
        }
    }

    private func error(status: Int, body: JSONValue?, retryAfter: String?) -> ClientAnswer {
        let seconds = retryAfter.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let error = pair.upstreamFormat.decodeError(status: status, body: body, retryAfterSeconds: seconds)
        return ClientAnswer(
            status: status, body: pair.clientErrorBody(error), retryAfter: retryAfter ?? error.retryAfterSeconds.map(String.init))
    }
}
