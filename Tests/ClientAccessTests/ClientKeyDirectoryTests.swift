import ClientAccess
import Foundation
import Testing

@Suite struct ClientKeyDirectoryTests {
    let hasher = ClientKeyHasher(encryptionKey: "test-encryption-key")

    func key(id: Int64 = 1, secret: String, _ edit: (inout ClientKey) -> Void = { _ in }) -> ClientKey {
        var key = ClientKey(id: id, name: "team-\(id)", secretHash: hasher.hash(secret), secretHint: ClientKeySecret.hint(secret))
        edit(&key)
        return key
    }

    @Test func aGeneratedSecretHasThePrefixAndEnoughRandomCharacters() {
        let secret = ClientKeySecret.generate()
        #expect(secret.hasPrefix("rk-"))
        #expect(secret.count == 3 + 43)
        #expect(secret.dropFirst(3).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(ClientKeySecret.generate() != secret)
        #expect(!ClientKeySecret.hint(secret).contains(secret.dropFirst(5).prefix(30)))
    }

    @Test func theHashDependsOnTheEncryptionKeyAndSurvivesHex() {
        let secret = ClientKeySecret.generate()
        let hash = hasher.hash(secret)
        #expect(hash.bytes.count == 32)
        #expect(ClientKeyHash(hex: hash.hex) == hash)
        #expect(ClientKeyHasher(encryptionKey: "another").hash(secret) != hash)
        #expect(ClientKeyHash(hex: "zz") == nil)
    }

    @Test func aSecretIsKnownRefusedOrUnknown() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let registry = ClientKeyRegistry(hasher: hasher, keys: [
            key(id: 1, secret: "rk-active-secret-000000000000"),
            key(id: 2, secret: "rk-disabled-secret-0000000000") { $0.enabled = false },
            key(id: 3, secret: "rk-expired-secret-00000000000") { $0.expiresAt = now.addingTimeInterval(-1) },
            key(id: 4, secret: "rk-revoked-secret-00000000000") { $0.revokedAt = now },
            key(id: 5, secret: "rk-new-secret-000000000000000") {
                $0.previousSecretHash = hasher.hash("rk-old-secret-in-grace-000000")
                $0.previousSecretValidUntil = now.addingTimeInterval(60)
            },
            key(id: 6, secret: "rk-new-secret-111111111111111") {
                $0.previousSecretHash = hasher.hash("rk-old-secret-no-grace-000000")
                $0.previousSecretValidUntil = nil
            },
        ])
        if case .key(let found) = registry.identify(secret: "rk-active-secret-000000000000", at: now) { #expect(found.id == 1) } else { Issue.record("active") }
        #expect(registry.identify(secret: "rk-disabled-secret-0000000000", at: now) == .refused(.disabled))
        #expect(registry.identify(secret: "rk-expired-secret-00000000000", at: now) == .refused(.expired))
        #expect(registry.identify(secret: "rk-revoked-secret-00000000000", at: now) == .refused(.revoked))
        if case .key(let found) = registry.identify(secret: "rk-old-secret-in-grace-000000", at: now) { #expect(found.id == 5) } else { Issue.record("grace") }
        #expect(registry.identify(secret: "rk-old-secret-in-grace-000000", at: now.addingTimeInterval(61)) == .refused(.rotated))
        #expect(registry.identify(secret: "rk-old-secret-no-grace-000000", at: now) == .refused(.rotated))
        #expect(registry.identify(secret: "rk-unknown-secret-0000000000", at: now) == .unknown)
        #expect(registry.identify(secret: "sk-not-a-client-key", at: now) == .unknown)
    }

    /// A connection's memo spares the keyed hash of a secret it presented before, never the lookup: what the registry
    /// says of the key now (revoked, expired, another key's secret) is what the memo'd request gets.
    @Test func aConnectionsMemoSkipsTheHashButNotTheLookup() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let first = "rk-memo-secret-first-000000000"
        let second = "rk-memo-secret-second-00000000"
        let registry = ClientKeyRegistry(hasher: hasher, keys: [key(id: 1, secret: first), key(id: 2, secret: second)])
        let memo = PresentedSecretMemo()
        func id(_ identity: ClientIdentity) -> Int64? { if case .key(let key) = identity { key.id } else { nil } }
        #expect(id(registry.identify(secret: first, at: now, memo: memo)) == 1)
        #expect(id(registry.identify(secret: first, at: now, memo: memo)) == 1)
        // Another secret on the same connection is hashed anew (never mistaken for the memo'd one).
        #expect(id(registry.identify(secret: second, at: now, memo: memo)) == 2)
        #expect(registry.identify(secret: "rk-memo-secret-unknown-0000000", at: now, memo: memo) == .unknown)
        #expect(id(registry.identify(secret: first, at: now, memo: memo)) == 1)
        // Revoked and expired after the memo was made: refused at once.
        registry.replace(with: [key(id: 1, secret: first) { $0.revokedAt = now }, key(id: 2, secret: second)])
        #expect(registry.identify(secret: first, at: now, memo: memo) == .refused(.revoked))
        registry.replace(with: [key(id: 1, secret: first) { $0.expiresAt = now.addingTimeInterval(10) }])
        #expect(id(registry.identify(secret: first, at: now, memo: memo)) == 1)
        #expect(registry.identify(secret: first, at: now.addingTimeInterval(10), memo: memo) == .refused(.expired))
    }

    @Test func modelPatternsAreExactOrAPrefixEndingInAStar() throws {
        #expect(try ModelPattern(parsing: "gpt-4o") == .exact("gpt-4o"))
        #expect(try ModelPattern(parsing: "gpt-4o*") == .prefix("gpt-4o"))
        #expect(try ModelPattern(parsing: "gpt-4o*").matches("gpt-4o-mini"))
        #expect(try !ModelPattern(parsing: "gpt-4o").matches("gpt-4o-mini"))
        #expect(throws: ModelPattern.Invalid.self) { try ModelPattern(parsing: "gpt-*-mini") }
        #expect(throws: ModelPattern.Invalid.self) { try ModelPattern(parsing: "") }
        let limited = key(secret: "rk-x") { $0.allowedModels = [.prefix("claude-"), .exact("gpt-4o")]; $0.allowedConfigs = ["openai"] }
        #expect(limited.allows(model: "claude-sonnet-4"))
        #expect(!limited.allows(model: "gpt-4o-mini"))
        #expect(!limited.allows(model: nil))
        #expect(limited.allows(config: "openai") && !limited.allows(config: "other"))
    }

    @Test func zeroOrNegativeLimitsMeanNone() {
        let limits = ClientKeyLimits(rpm: 0, tpm: 1000, maxConcurrent: -1, dailyRequests: 5)
        #expect(limits.rpm == nil && limits.maxConcurrent == nil)
        #expect(limits.configured.map(\.limit) == [.tpm, .dailyRequests])
        #expect(limits.limitsTokens)
        #expect(ClientKeyLimits().isEmpty)
    }
}
