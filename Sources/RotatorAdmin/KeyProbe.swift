import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RotatorCore
import RotatorProxy
import TrafficStats

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
            let message = ProviderMessage.extract(from: body.readableBytesView, secret: secret)
            return KeyCheckResult(outcome: KeyCheckOutcome(status: status), status: status, message: message, endpoint: probe.endpoint, checkedAt: now())
        } catch {
            let reason = (error as? HTTPClientError)?.shortDescription ?? String(describing: type(of: error))
            return KeyCheckResult(outcome: .unreachable, status: nil, message: "the upstream could not be reached (\(reason))",
                                  endpoint: probe.endpoint, checkedAt: now())
        }
    }
}

/// The probe of one format: path and credential header (`GET /v1/models` with Bearer for OpenAI-compatible,
/// with `x-api-key` and `anthropic-version` for Anthropic, `GET /v1beta/models` with `x-goog-api-key` for Gemini).
struct KeyProbeRequest: Equatable {
    var url: String
    var headers: HTTPHeaders
    /// Method and path as shown to the admin (no host, no key).
    var endpoint: String

    init?(config: ProxyConfig, secret: String) {
        guard config.configType == .llm, let base = config.targetBaseURL, let target = UpstreamTarget(base) else { return nil }
        let rest: Substring
        var headers = HTTPHeaders()
        switch config.apiFormat {
        case .openAICompatible:
            rest = "/v1/models"
            headers.add(name: "Authorization", value: "Bearer \(secret)")
        case .anthropicNative:
            rest = "/v1/models"
            headers.add(name: "x-api-key", value: secret)
            headers.add(name: "anthropic-version", value: "2023-06-01")
        case .geminiNative:
            rest = "/v1beta/models"
            headers.add(name: "x-goog-api-key", value: secret)
        }
        guard let url = try? UpstreamURLBuilder.build(target: target, rest: rest, query: nil) else { return nil }
        self.url = url
        self.headers = headers
        let path = url.dropFirst(target.origin.count).prefix { $0 != "?" }
        self.endpoint = "GET " + path
    }
}

/// What a probe's answer says about the key.
enum KeyCheckOutcome: String, Encodable, Sendable {
    case ok
    /// 401/403: the provider refuses the key.
    case rejected
    /// 429: the key works but is rate limited (or out of quota) right now.
    case rateLimited = "rate_limited"
    /// Any other answer: not the key's verdict.
    case error
    case unreachable
    case notCheckable = "not_checkable"

    init(status: Int) {
        switch status {
        case 200..<300: self = .ok
        case 401, 403: self = .rejected
        case 429: self = .rateLimited
        default: self = .error
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
