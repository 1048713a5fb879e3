import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RotatorCore
import TrafficStats
import UpstreamProviders

/// "Check now": one cheap call with one key in its config's format (the models list), and what the answer says
/// about the key. Nothing is retried, nothing is reported to the coordinator: it only tells the admin.
public struct KeyProbe: Sendable {
    private let client: HTTPClient
    private let timeout: TimeAmount

    public init(client: HTTPClient, timeout: TimeAmount = .seconds(10)) {
        self.client = client
        self.timeout = timeout
    }

    func check(config: ProxyConfig, secret: String, now: @Sendable () -> Date = { Date() }) async -> KeyCheckResult {
        guard let probe = KeyProbeRequest(config: config, secret: secret) else {
            return KeyCheckResult(outcome: .notCheckable, status: nil, message: "only LLM configs with a valid target URL can be checked",
                                  endpoint: nil, checkedAt: now())
        }
        var request = HTTPClientRequest(url: probe.url)
        request.method = .GET
        request.headers = probe.headers
        do {
            let response = try await client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 256 * 1024)
            let status = Int(response.status.code)
            // Judged as the relay judges an answer: the provider's codes first, then the status.
            let answer = UpstreamAnswerClassifier(dialect: probe.dialect, overrides: config.answerOverrides)
                .classify(status: status, headers: response.headers, body: body, now: now())
            let message = answer.providerMessage.map { ProviderMessage.scrub($0, secret: secret) }.flatMap { $0.isEmpty ? nil : $0 }
            return KeyCheckResult(outcome: KeyCheckOutcome(answer), status: status, message: message, endpoint: probe.endpoint, checkedAt: now())
        } catch {
            let reason = (error as? HTTPClientError)?.shortDescription ?? String(describing: type(of: error))
            return KeyCheckResult(outcome: .unreachable, status: nil, message: "the upstream could not be reached (\(reason))",
                                  endpoint: probe.endpoint, checkedAt: now())
        }
    }
}

/// The probe of one format, as its `UpstreamProvider` says: the model list with the key where the provider takes it
/// (`GET /v1/models` with Bearer for OpenAI-compatible, with `x-api-key` and `anthropic-version` for Anthropic,
/// `GET /v1beta/models` with `x-goog-api-key` for Gemini).
struct KeyProbeRequest: Equatable {
    var url: String
    var headers: HTTPHeaders
    /// Method and path as shown to the admin (no host, no key).
    var endpoint: String
    var dialect: UpstreamDialect

    init?(config: ProxyConfig, secret: String) {
        guard config.configType == .llm, let base = config.targetBaseURL, let target = UpstreamTarget(base) else { return nil }
        let dialect = UpstreamDialect(format: config.apiFormat)
        guard let probe = dialect.provider.probe(secret: secret),
            let url = try? UpstreamURLBuilder.build(
                target: target, rest: Substring(probe.path), query: nil, clientPicksVersion: dialect.provider.clientPicksVersion)
        else { return nil }
        self.url = url
        self.headers = probe.headers
        self.dialect = dialect
        let path = url.dropFirst(target.origin.count).prefix { $0 != "?" }
        self.endpoint = "GET " + path
    }
}

/// What a probe's answer says about the key.
enum KeyCheckOutcome: String, Encodable, Sendable {
    case ok
    /// The provider refuses the key (401, 403, or a provider's key code).
    case rejected
    /// The key works but is rate limited (or out of quota) right now.
    case rateLimited = "rate_limited"
    /// Any other answer: not the key's verdict.
    case error
    case unreachable
    case notCheckable = "not_checkable"

    /// From the relay's verdict on the answer (`UpstreamAnswerClassifier`), so a provider's code counts here as it
    /// does on the request path (Google's 400 `API_KEY_INVALID` is a refused key, not "an error").
    init(_ answer: UpstreamAnswer) {
        switch answer.blame {
        case .success: self = .ok
        // Refused, or this key may not even list models (403 permission).
        case .keyInvalid, .request(dependsOnKey: true): self = .rejected
        case .rateLimited, .keyExhausted: self = .rateLimited
        case .request(dependsOnKey: false), .upstream: self = .error
        }
    }
}

struct KeyCheckResult: Encodable, Sendable {
    var outcome: KeyCheckOutcome
    var status: Int?
    /// The provider's message, scrubbed of secrets.
    var message: String?
    var endpoint: String?
    var checkedAt: Date

    enum CodingKeys: String, CodingKey {
        case outcome, status, message, endpoint
        case checkedAt = "checked_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(status, forKey: .status)
        try container.encode(message, forKey: .message)
        try container.encode(endpoint, forKey: .endpoint)
        try container.encode(Timestamp.string(checkedAt), forKey: .checkedAt)
    }
}
