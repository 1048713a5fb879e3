import ClientAccess
import ConfigCatalog
import Foundation
import NIOCore
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Testing

/// The gate's part of client keys, without sockets: a client key authenticates like an operator key; a refused one
/// (revoked, disabled, expired, rotated) gets a 401 saying which; an unknown key keeps the uniform 401 of every slug;
/// `allowed_configs` and `allowed_models` answer 403; operator keys are admitted as before.
@Suite struct ClientKeyGateTests {
    static let hasher = ClientKeyHasher(encryptionKey: "gate-test-encryption-key")
    static let active = ClientKeySecret.generate()
    static let revoked = ClientKeySecret.generate()
    static let disabled = ClientKeySecret.generate()
    static let expired = ClientKeySecret.generate()
    static let rotatedOut = ClientKeySecret.generate()
    static let rotatedIn = ClientKeySecret.generate()
    static let otherConfigOnly = ClientKeySecret.generate()

    static func key(_ id: Int64, _ name: String, _ secret: String, enabled: Bool = true, expiresAt: Date? = nil, allowedConfigs: [String]? = nil,
                    allowedModels: [ModelPattern]? = nil, previous: String? = nil, revokedAt: Date? = nil) -> ClientKey {
        ClientKey(id: id, name: name, enabled: enabled, expiresAt: expiresAt, allowedConfigs: allowedConfigs, allowedModels: allowedModels,
                  secretHash: hasher.hash(secret), secretHint: ClientKeySecret.hint(secret), previousSecretHash: previous.map { hasher.hash($0) },
                  previousSecretValidUntil: previous.map { _ in Date(timeIntervalSinceNow: -60) }, revokedAt: revokedAt)
    }

    static let registry = ClientKeyRegistry(hasher: hasher, keys: [
        key(1, "team-a", active, allowedConfigs: ["c"]),
        key(2, "gone", revoked, revokedAt: Date(timeIntervalSinceNow: -10)),
        key(3, "off", disabled, enabled: false),
        key(4, "old", expired, expiresAt: Date(timeIntervalSinceNow: -10)),
        key(5, "turned", rotatedIn, previous: rotatedOut),
        key(6, "elsewhere", otherConfigOnly, allowedConfigs: ["other", "third"]),
    ])

    static func decide(_ uri: String, method: HTTPMethod = .POST, headers: [(String, String)], pool: ServingPool?,
                       registry: ClientKeyRegistry? = registry) -> ProxyRequestGate.Decision {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers + [("content-length", "20")]))
        return ProxyRequestGate.evaluate(head: head, route: ProxyRoute(uri: uri)!, catalogLoaded: true, pool: pool,
                                         proxyKeys: [ProxyGateAnonymityTests.proxyKey], maxBodyBytes: 1 << 20, clientKeys: registry)
    }

    static func refusal(_ decision: ProxyRequestGate.Decision) -> ProxyRequestGate.Refusal? {
        if case .refuse(let refusal) = decision { return refusal }
        return nil
    }

    static func admission(_ decision: ProxyRequestGate.Decision) -> ProxyRequestGate.Admission? {
        if case .admit(let admission) = decision { return admission }
        return nil
    }

    static let openAI = ProxyGateAnonymityTests.pool(.openAICompatible)

    @Test func aClientKeyIsAdmittedAndNamedOnTheAdmission() throws {
        let admitted = try #require(Self.admission(Self.decide("/llm/c/v1/chat/completions", headers: [("Authorization", "Bearer \(Self.active)")],
                                                               pool: Self.openAI)))
        #expect(admitted.credential == .verified)
        #expect(admitted.clientKey?.name == "team-a")
    }

    @Test func operatorKeysAreAdmittedAsBeforeWithoutAClientKey() throws {
        let admitted = try #require(Self.admission(Self.decide(
            "/llm/c/v1/chat/completions", headers: [("Authorization", "Bearer \(ProxyGateAnonymityTests.proxyKey)")], pool: Self.openAI
        )))
        #expect(admitted.credential == .verified)
        #expect(admitted.clientKey == nil)
    }

    @Test func aRefusedClientKeyGets401SayingWhyOnEverySlug() {
        let cases: [(String, ClientKeyRefusal)] = [(Self.revoked, .revoked), (Self.disabled, .disabled), (Self.expired, .expired),
                                                   (Self.rotatedOut, .rotated)]
        for (secret, reason) in cases {
            for pool in [nil, Self.openAI] {
                let refusal = Self.refusal(Self.decide("/llm/c/v1/chat/completions", headers: [("Authorization", "Bearer \(secret)")], pool: pool))
                #expect(refusal?.status == .unauthorized)
                #expect(refusal?.message == reason.message, "\(reason)")
                #expect(refusal?.countsAsWrongKey == false, "a known key's refusal is no guess")
            }
        }
        #expect(Self.admission(Self.decide("/llm/c/v1/chat/completions", headers: [("Authorization", "Bearer \(Self.rotatedIn)")],
                                           pool: Self.openAI))?.clientKey?.id == 5, "the new secret works")
    }

    @Test func anUnknownKeyGetsTheUniform401OfEverySlug() {
        let unknown = ClientKeySecret.generate()
        let pools: [ServingPool?] = [nil, Self.openAI, ProxyGateAnonymityTests.pool(.openAICompatible, active: false)]
        for uri in ["/llm/c/v1/chat/completions", "/llm/c/v1/models"] {
            let refusals = pools.map { Self.refusal(Self.decide(uri, headers: [("Authorization", "Bearer \(unknown)")], pool: $0)) }
            let withoutClientKeys = Self.refusal(Self.decide(uri, headers: [("Authorization", "Bearer \(unknown)")], pool: Self.openAI,
                                                             registry: nil))
            for refusal in refusals {
                #expect(refusal == withoutClientKeys, "\(uri): an unknown client key is any wrong key")
                #expect(refusal?.message == "missing or invalid proxy key")
                #expect(refusal?.countsAsWrongKey == true)
            }
        }
    }

    @Test func aKeyNotAllowedOnTheConfigGets403AfterAuthentication() {
        let refusal = Self.refusal(Self.decide("/llm/c/v1/chat/completions", headers: [("Authorization", "Bearer \(Self.otherConfigOnly)")],
                                               pool: Self.openAI))
        #expect(refusal?.status == .forbidden)
        #expect(refusal?.kind == .permission)
        #expect(refusal?.message == "client key 'elsewhere' may not use proxy config 'c' (its allowed_configs: other, third)")
        #expect(refusal?.format == .openAICompatible, "in the client's format")
        // An unknown slug is told as to any valid key (404), not as a list refusal.
        #expect(Self.refusal(Self.decide("/llm/c/v1/chat/completions", headers: [("Authorization", "Bearer \(Self.otherConfigOnly)")],
                                         pool: nil))?.status == .notFound)
    }

    @Test func aClientKeyInTheQueryNeverGoesUpstream() throws {
        let gemini = ProxyGateAnonymityTests.pool(.geminiNative)
        let admitted = try #require(Self.admission(Self.decide(
            "/llm/c/v1beta/models/gemini-2.0-flash:generateContent?key=\(Self.active)&alt=sse", headers: [], pool: gemini
        )))
        #expect(admitted.clientKey?.name == "team-a")
        #expect(!(admitted.upstreamQuery ?? "").contains(Self.active), "\(admitted.upstreamQuery ?? "")")
        #expect(admitted.upstreamQuery?.contains("alt=sse") == true)
    }

    @Test func aModelListAppliesToLLMRequestsThatNameOrShouldNameAModel() throws {
        let key = Self.key(9, "models", ClientKeySecret.generate(),
                           allowedModels: [try ModelPattern(parsing: "gpt-4o*"), try ModelPattern(parsing: "claude-sonnet-4")])
        #expect(ProxyRequestGate.modelRefusal(key, model: "gpt-4o-mini", method: .POST, route: .llm, format: .openAICompatible) == nil)
        #expect(ProxyRequestGate.modelRefusal(key, model: "claude-sonnet-4", method: .POST, route: .llm, format: .openAICompatible) == nil)
        let refused = try #require(ProxyRequestGate.modelRefusal(key, model: "gpt-5", method: .POST, route: .llm, format: .anthropicNative))
        #expect(refused.status == .forbidden)
        #expect(refused.format == .anthropicNative)
        #expect(refused.message == "client key 'models' may not use model 'gpt-5' (its allowed_models: gpt-4o*, claude-sonnet-4)")
        #expect(ProxyRequestGate.modelRefusal(key, model: nil, method: .POST, route: .llm, format: nil)?.status == .forbidden,
                "a call that names no model cannot slip past the list")
        #expect(ProxyRequestGate.modelRefusal(key, model: nil, method: .GET, route: .llm, format: nil) == nil, "listing models")
        #expect(ProxyRequestGate.modelRefusal(key, model: nil, method: .POST, route: .generic, format: nil) == nil, "generic configs name no model")
        let unlisted = Self.key(10, "any", ClientKeySecret.generate())
        #expect(ProxyRequestGate.modelRefusal(unlisted, model: "anything", method: .POST, route: .llm, format: nil) == nil)
    }

    @Test func aQuotaRefusalNamesTheLimitItsValueAndWhenItFrees() {
        let rpm = ProxyRequestGate.quotaRefusal(keyName: "team-a", limit: .rpm, value: 60, retryAfter: 11.2, format: .geminiNative)
        #expect(rpm.status == .tooManyRequests)
        #expect(rpm.kind == .rateLimited)
        #expect(rpm.message == "client key 'team-a' reached its rpm limit of 60 requests; a request frees in 12 s")
        #expect(rpm.extraHeaders.map(\.0) == ["Retry-After"] && rpm.extraHeaders.map(\.1) == ["12"])
        let month = ProxyRequestGate.quotaRefusal(keyName: "team-a", limit: .monthlyTokens, value: 1000, retryAfter: nil, format: nil)
        #expect(month.message == "client key 'team-a' reached its monthly_tokens limit of 1000 tokens; it frees when its window resets (UTC month)")
        #expect(month.extraHeaders.isEmpty, "no Retry-After where waiting does not help")
    }

    @Test func theReservationIsTheMaxOutputTokensPlusAQuarterOfTheBody() {
        func tokens(_ body: String) -> Int64 { TokenReservation.tokens(body: ByteBuffer(string: body), defaultMaxTokens: 4096) }
        let openAI = #"{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"max_tokens: 9999"}]}"#
        #expect(tokens(openAI) == 100 + Int64(openAI.utf8.count / 4))
        let completion = #"{"max_completion_tokens": 250, "model":"m"}"#
        #expect(tokens(completion) == 250 + Int64(completion.utf8.count / 4))
        let responses = #"{"model":"m","input":"hi","max_output_tokens":64}"#
        #expect(tokens(responses) == 64 + Int64(responses.utf8.count / 4))
        let gemini = #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"temperature":0.5,"maxOutputTokens":321}}"#
        #expect(tokens(gemini) == 321 + Int64(gemini.utf8.count / 4))
        let none = #"{"model":"m","messages":[]}"#
        #expect(tokens(none) == 4096 + Int64(none.utf8.count / 4))
    }
}
