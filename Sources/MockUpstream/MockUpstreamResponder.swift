import Foundation
import HTTPTypes
import Hummingbird

/// Answers every request. A hand-rolled responder rather than a `Router`: routes match on the path's end
/// (any base path) and Gemini's `model:action` segments, which a router's trie does not express.
struct MockUpstreamResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let state: MockUpstreamState

    func respond(to request: Request, context: Context) async throws -> Response {
        if request.uri.path.hasPrefix("/__mock/") {
            do {
                return try await control(request)
            } catch let error as MockControlError {
                return Self.json(error.status, #"{"error":\#(JSONText.quote(error.message))}"#)
            }
        }
        let answer = await serve(request)
        return ResponseCompression.shouldCompress(status: answer.status, requestHeaders: request.headers) ? ResponseCompression.compressed(answer) : answer
    }

    private func serve(_ request: Request) async -> Response {
        if let redirect = Self.redirect(request) { return redirect }
        var request = request
        let settings = state.settings
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: settings.maxBodyBytes)
        } catch {
            return Self.json(413, ProviderDialect.generic.errorBody(status: 413, message: "Request body too large."))
        }
        let path = request.uri.path
        let route = MockRoute(method: request.method, path: path)
        let found = Credential(request: request, settings: settings)
        let dialect = Self.dialect(for: route, credential: found, headers: request.headers)
        // A key in another provider's header is no key at all to this provider: its 401.
        let credential = found.flatMap { dialect.accepts($0.source) ? $0 : nil }
        let overrides = RequestOverrides(headers: request.headers)
        let record = settings.recordedRequestLimit > 0 ? Self.record(request, body: body, key: found?.key) : nil
        let checked = ProviderRequestCheck.check(route, body: body, headers: request.headers)
        let refusal: ProviderRequestCheck.Refusal? = if case .failure(let refusal) = checked { refusal } else { nil }

        let model: String? = if case .success(let generation) = checked { generation.model } else { nil }
        let admission = state.admit(key: credential?.key, model: model, forcedStatus: overrides.status, refusal: refusal?.status, record: record)

        let latency = admission.latencyMilliseconds + overrides.latencyMilliseconds
        if latency > 0 {
            try? await Task.sleep(for: .milliseconds(latency))
        }
        if let refusal, admission.outcome == .status(refusal.status) {
            return Self.json(refusal.status, dialect.errorBody(status: refusal.status, message: refusal.message))
        }
        guard admission.outcome == .serve, let credential, case .success(let generation) = checked else {
            return Self.rejection(admission.outcome, style: admission.retryAfterStyle, dialect: dialect, keySuffix: credential?.suffix)
        }

        let reply = Reply(
            keySuffix: credential.suffix,
            sequence: admission.sequence,
            chunks: overrides.chunks ?? admission.chunks,
            chunkDelay: .milliseconds(overrides.chunkDelayMilliseconds ?? admission.chunkDelayMilliseconds),
            toolCall: generation.toolToCall,
            json: generation.json
        )
        var response: Response
        switch route {
        case .chatCompletions:
            response = Self.chatCompletion(reply, request: generation)
        case .responses:
            response = Self.openAIResponse(reply, request: generation)
        case .messages:
            response = Self.anthropicMessage(reply, request: generation)
        case .generateContent(let model):
            response = Self.geminiContent(reply, model: model)
        case .streamGenerateContent(let model):
            response = Self.geminiStream(reply, model: model, sse: request.uri.queryParameters["alt"] == "sse")
        case .models:
            response = Self.models(dialect)
        case .generic where path.hasSuffix("/echo"):
            response = Self.fullEcho(request, body: body, key: credential.key)
        case .generic, .unsupported:
            response = Self.echo(request, body: body, keySuffix: credential.suffix)
        }
        response.headers[.xMockServedBy] = "...\(credential.suffix)"
        if generation.stream { response.body = state.counted(response.body, key: credential.key) }
        return response
    }

    // MARK: Shared pieces

    static func json(_ status: Int, _ text: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: Self.status(status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func eventStream(_ units: [String], delay: Duration, contentType: String = "text/event-stream") -> Response {
        let headers: HTTPFields = [.contentType: contentType, .cacheControl: "no-cache"]
        return Response(status: .ok, headers: headers, body: EventStream.body(units: units, delay: delay))
    }

    /// A profile may hold any integer; one outside what HTTP can carry becomes a plain 500 instead of a trap.
    static func status(_ code: Int) -> HTTPResponse.Status {
        (100...999).contains(code) ? HTTPResponse.Status(code: code) : .internalServerError
    }

    private static func dialect(for route: MockRoute, credential: Credential?, headers: HTTPFields) -> ProviderDialect {
        switch route {
        case .chatCompletions, .responses: return .openAI
        case .messages: return .anthropic
        case .unsupported(let dialect): return dialect
        case .generateContent, .streamGenerateContent: return .gemini
        case .generic: return .generic
        case .models:
            // `/models` exists at all three providers; the credential's placement (and Anthropic's version
            // header, which its SDK sends with a Bearer key too) says which one is asked.
            switch credential?.source {
            case .googleHeader, .googleQuery: return .gemini
            case .anthropicHeader: return .anthropic
            case _ where headers[.anthropicVersion] != nil: return .anthropic
            default: return .openAI
            }
        }
    }

    private static func record(_ request: Request, body: ByteBuffer, key: String?) -> RecordedRequest {
        RecordedRequest(
            method: request.method.rawValue,
            path: request.head.path ?? request.uri.string,
            headers: request.headers.map { (name: $0.name.rawName, value: $0.value) },
            body: Array(body.readableBytesView),
            key: key
        )
    }
}
